import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../src/schemas.ts'

export const User = Type.Object(
  {
    id: Type.Integer({ examples: [1] }),
    username: Type.String({ examples: ['jsilva'] }),
    email: Type.String({ examples: ['joao.silva@empresa.com'] }),
    full_name: Type.Union([Type.String(), Type.Null()], { examples: ['João Silva'] }),
    department: Type.Union([Type.String(), Type.Null()], { examples: ['Desenvolvimento'] }),
    created_at: Type.Union([Type.String(), Type.Null()], {
      description: 'ISO 8601 timestamp without a zone (the column is `timestamp`)',
      examples: ['2026-11-29T15:30:59.123456'],
    }),
  },
  { title: 'User' },
)

const UserList = Type.Object(
  {
    total: Type.Integer({ description: 'How many users there are', examples: [10] }),
    users: Type.Array(User, { description: 'Ordered by id' }),
  },
  { title: 'UserList' },
)

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List the users, ordered by id',
        response: { 200: UserList, ...errorResponses(429, 500, 503) },
      },
    },
    async () => fastify.users.list(),
  )
}

export default userRoutes
