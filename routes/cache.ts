import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CacheKeyNotFoundError } from '../lib/errors.ts'
import { CacheEntry, CacheKey, CacheWrite, CacheWritten, DEFAULT_TTL_SECONDS } from '../lib/schemas/cache.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import { IdempotencyKeyHeaders, ReplayedHeaders } from '../lib/schemas/idempotency.ts'
import { API_KEY_REQUIRED } from '../lib/schemas/security.ts'

const cacheRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/cache',
    {
      config: { idempotencyKey: true },
      schema: {
        operationId: 'putCacheEntry',
        security: API_KEY_REQUIRED,
        tags: ['cache'],
        summary: 'Store a JSON value under a key, with an expiry',
        description:
          'Stores `value` (any JSON, at most CACHE_MAX_VALUE_BYTES of it: 64 KiB by default) under `key` for ' +
          '`ttl` seconds (default 3600), replacing what the key held. Redis keeps at most its maxmemory and evicts ' +
          'the least used keys first, so a value may be gone before its ttl. With an `Idempotency-Key`, a retry ' +
          'gets the first answer again and writes nothing.',
        headers: IdempotencyKeyHeaders,
        body: Type.Ref(CacheWrite),
        response: {
          201: { ...Type.Ref(CacheWritten, { description: 'The value is stored' }), headers: ReplayedHeaders },
          ...errorResponses(400, 401, 409, 413, 415, 422, 429, 500, 503, 507),
        },
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
        operationId: 'getCacheEntry',
        tags: ['cache'],
        summary: 'Read a cached value and the seconds it has left',
        description: 'The value stored under `key` and its seconds left; 404 once it has expired or was never stored.',
        params: CacheKey,
        response: { 200: Type.Ref(CacheEntry), ...errorResponses(400, 404, 414, 429, 500, 503) },
      },
    },
    async (request) => {
      const { key } = request.params
      const entry = await fastify.cacheStore.get(key)
      if (!entry) throw new CacheKeyNotFoundError(key)
      return entry
    },
  )
}

export default cacheRoutes
