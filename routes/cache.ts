import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CacheKeyNotFoundError } from '../lib/errors.ts'
import { CacheEntry, CacheKey, CacheWrite, CacheWritten, DEFAULT_TTL_SECONDS } from '../lib/schemas/cache.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import { IdempotencyKeyHeaders, ReplayedHeaders } from '../lib/schemas/idempotency.ts'
import { API_KEY_REQUIRED } from '../lib/schemas/security.ts'

const cacheRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  for (const schema of [CacheWrite, CacheWritten, CacheEntry]) fastify.addSchema(schema)
  const tags = [fastify.openapiTag('cache', 'A JSON key-value cache in Redis, with expiry')]

  fastify.post(
    '/cache',
    {
      config: { endpoint: 'cache_set', idempotencyKey: true },
      schema: {
        operationId: 'putCacheEntry',
        security: API_KEY_REQUIRED,
        tags,
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
      config: { endpoint: 'cache_get' },
      schema: {
        operationId: 'getCacheEntry',
        tags,
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
