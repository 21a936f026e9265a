import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { UserNotFoundError } from '../lib/errors.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import {
  ListQuery,
  NewUser,
  User,
  UserChanges,
  UserCreatedHeaders,
  UserId,
  UserPage,
  UserReadHeaders,
} from '../lib/schemas/users.ts'

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List the users, ordered by id, a page at a time',
        querystring: ListQuery,
        response: {
          200: Type.Ref(UserPage, { description: 'One page of users' }),
          ...errorResponses(400, 429, 500, 503),
        },
      },
    },
    async (request) => fastify.users.list(request.query),
  )

  fastify.get(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Read one user (cache-aside through Redis)',
        params: UserId,
        response: {
          200: {
            ...Type.Ref(User, { description: 'The user; `x-cache` says where it came from' }),
            headers: UserReadHeaders,
          },
          ...errorResponses(400, 404, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const { user, cache } = await fastify.users.get(id)
      if (!user) throw new UserNotFoundError(id)
      return reply.header('x-cache', cache).send(user)
    },
  )

  fastify.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        body: Type.Ref(NewUser),
        response: {
          201: { ...Type.Ref(User, { description: 'The created user' }), headers: UserCreatedHeaders },
          ...errorResponses(400, 409, 413, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const user = await fastify.users.create(request.body)
      return reply.code(201).header('location', `/users/${user.id}`).send(user)
    },
  )

  fastify.patch(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Change some fields of a user',
        params: UserId,
        body: Type.Ref(UserChanges),
        response: {
          200: Type.Ref(User, { description: 'The updated user' }),
          ...errorResponses(400, 404, 409, 413, 429, 500, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params
      const user = await fastify.users.update(id, request.body)
      if (!user) throw new UserNotFoundError(id)
      return user
    },
  )

  fastify.delete(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete a user',
        params: UserId,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 404, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      if (!(await fastify.users.remove(id))) throw new UserNotFoundError(id)
      return reply.code(204).send(null)
    },
  )
}

export default userRoutes
