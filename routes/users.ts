import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import { UserNotFoundError } from '../lib/errors.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import { IdempotencyKeyHeaders, ReplayedHeaders } from '../lib/schemas/idempotency.ts'
import { API_KEY_REQUIRED } from '../lib/schemas/security.ts'
import {
  ListQuery,
  MAX_OFFSET,
  NewUser,
  User,
  UserChanges,
  UserCreatedHeaders,
  UserId,
  UserPage,
  UserPageHeaders,
  UserReadHeaders,
} from '../lib/schemas/users.ts'
import { serializedOnce } from '../lib/serialized-once.ts'

const JSON_TYPE = 'application/json; charset=utf-8'

const created = (reply: FastifyReply, user: User) => reply.code(201).header('location', `/users/${user.id}`).send(user)

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  for (const schema of [User, NewUser, UserChanges, UserPage]) fastify.addSchema(schema)
  const tags = [fastify.openapiTag('users', 'Users stored in PostgreSQL')]

  fastify.get(
    '/users',
    {
      config: { endpoint: 'users' },
      schema: {
        operationId: 'listUsers',
        tags,
        summary: 'List the users, ordered by id, a page at a time',
        description:
          'One page of `limit` users, optionally only those of one `department`, with how many match in all ' +
          '(`total`). Page on with `after` (the last id of the page before): every page but the last has a ' +
          '`Link: <url>; rel="next"` header and a `next` field with the next page\'s URL. `offset` goes up to ' +
          `${MAX_OFFSET} (beyond, a 400: page by \`after\`). Read from Postgres.`,
        querystring: ListQuery,
        response: {
          200: { ...Type.Ref(UserPage, { description: 'One page of users' }), headers: UserPageHeaders },
          ...errorResponses(400, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const page = await fastify.users.list(request.query)
      if (page.next) reply.header('link', `<${page.next}>; rel="next"`)
      // The route's own serializer (response schema), once per shared page.
      const text = serializedOnce(page, (value) => reply.serialize(value) as string)
      return reply.type(JSON_TYPE).send(text as unknown as UserPage)
    },
  )

  fastify.get(
    '/users/:id',
    {
      config: { endpoint: 'user_get' },
      schema: {
        operationId: 'getUser',
        tags,
        summary: 'Read one user',
        description:
          'Cache-aside through Redis: served from the cache when it holds the user, else read from Postgres and ' +
          'cached for `USERS_CACHE_TTL_SECONDS`. The `x-cache` header says which. A write to the user drops its ' +
          'cached entry, so a read after a write sees the write.',
        params: UserId,
        response: {
          200: {
            ...Type.Ref(User, { description: 'The user; `x-cache` says where it came from' }),
            headers: UserReadHeaders,
          },
          ...errorResponses(400, 404, 414, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const read = await fastify.users.get(id)
      if (!read) throw new UserNotFoundError(id)
      return reply.header('x-cache', read.cache).send(read.user)
    },
  )

  fastify.post(
    '/users',
    {
      config: {
        endpoint: 'user_create',
        idempotencyKey: {
          // A retry of a create whose outcome is unknown: the user it created, if it is there, is the answer.
          async resume(request, reply) {
            const user = await fastify.users.findCreated(request.body as NewUser)
            if (!user) return false
            created(reply, user)
            return true
          },
        },
      },
      schema: {
        operationId: 'createUser',
        security: API_KEY_REQUIRED,
        tags,
        summary: 'Create a user',
        description:
          'Stores a new user and answers it with its id and `created_at`; `location` is its URL. A username or ' +
          'email already taken (ignoring letter case) is a 409 that names the field. With an `Idempotency-Key`, ' +
          'a retry gets the first answer again (the user, or the 409) and creates nothing.',
        headers: IdempotencyKeyHeaders,
        body: Type.Ref(NewUser),
        response: {
          201: {
            ...Type.Ref(User, { description: 'The created user' }),
            headers: { ...UserCreatedHeaders, ...ReplayedHeaders },
          },
          ...errorResponses(400, 401, 409, 413, 415, 422, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      return created(reply, await fastify.users.create(request.body))
    },
  )

  fastify.patch(
    '/users/:id',
    {
      config: { endpoint: 'user_update' },
      schema: {
        operationId: 'updateUser',
        security: API_KEY_REQUIRED,
        tags,
        summary: 'Change some fields of a user',
        description:
          'Changes the fields sent (at least one) and keeps the others; `null` clears `full_name` or ' +
          '`department`. Answers the updated user. Conflicts as in createUser.',
        params: UserId,
        body: Type.Ref(UserChanges),
        response: {
          200: Type.Ref(User, { description: 'The updated user' }),
          ...errorResponses(400, 401, 404, 409, 413, 414, 415, 429, 500, 503),
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
      config: { endpoint: 'user_delete' },
      schema: {
        operationId: 'deleteUser',
        security: API_KEY_REQUIRED,
        tags,
        summary: 'Delete a user',
        description:
          'Deletes the user and drops its cached entry. Answers 204 without a body; 409 `STILL_REFERENCED` while ' +
          'other data refers to the user.',
        params: UserId,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...errorResponses(400, 401, 404, 409, 413, 414, 415, 429, 500, 503),
        },
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
