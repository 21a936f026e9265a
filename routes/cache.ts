import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CacheKeyNotFoundError } from '../lib/errors.ts'
import { errorResponses } from '../lib/schemas/error.ts'

export const MAX_KEY_LENGTH = 512
export const DEFAULT_TTL_SECONDS = 3600
export const MAX_TTL_SECONDS = 30 * 24 * 3600

const Key = Type.String({
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  // No control characters (C0, DEL, C1): they break logs and terminals.
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
  description: `1 to ${MAX_KEY_LENGTH} characters, no control characters`,
  examples: ['user:1'],
})

const Ttl = Type.Integer({
  minimum: 1,
  maximum: MAX_TTL_SECONDS,
  description: `Seconds until the key expires, 1 to ${MAX_TTL_SECONDS} (30 days)`,
  examples: [300],
})

const Value = Type.Unknown({ description: 'Any JSON value', examples: [{ name: 'João' }] })

const CacheWrite = Type.Object(
  { key: Key, value: Value, ttl: Type.Optional({ ...Ttl, default: DEFAULT_TTL_SECONDS }) },
  { title: 'CacheWrite', examples: [{ key: 'user:1', value: { name: 'João' }, ttl: 300 }] },
)

const CacheWritten = Type.Object(
  {
    message: Type.String({ examples: ['Data cached successfully'] }),
    key: Key,
    ttl: Ttl,
  },
  { title: 'CacheWritten' },
)

const CacheEntry = Type.Object(
  { key: Key, value: Value, ttl: Type.Integer({ minimum: 0, description: 'Seconds left before it expires' }) },
  { title: 'CacheEntry' },
)

const cacheRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/cache',
    {
      schema: {
        tags: ['cache'],
        summary: 'Store a JSON value under a key, with an expiry',
        body: CacheWrite,
        response: { 201: CacheWritten, ...errorResponses(400, 413, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const { key, value, ttl = DEFAULT_TTL_SECONDS } = request.body
      await fastify.cacheStore.set(key, value, ttl)
      return reply.code(201).send({ message: 'Data cached successfully', key, ttl })
    },
  )

  fastify.get(
    '/cache/:key',
    {
      schema: {
        tags: ['cache'],
        summary: 'Read a cached value and the seconds it has left',
        params: Type.Object({ key: Key }),
        response: { 200: CacheEntry, ...errorResponses(400, 404, 429, 500, 503) },
      },
    },
    async (request) => {
      const { key } = request.params
      const entry = await fastify.cacheStore.get(key)
      if (!entry) throw new CacheKeyNotFoundError(key)
      return { key, value: entry.value, ttl: entry.ttl }
    },
  )
}

export default cacheRoutes
