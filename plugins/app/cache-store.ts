import fp from 'fastify-plugin'
import type { Result } from 'ioredis'
import { CacheFullError, CacheUnavailableError, CacheValueTooLargeError } from '../../lib/errors.ts'
import type { CacheEntry } from '../../lib/schemas/cache.ts'

interface CacheStore {
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>
  /** The entry, with its seconds left, or null when the key is absent or expired. */
  get(key: string): Promise<CacheEntry | null>
}

declare module 'fastify' {
  interface FastifyInstance {
    cacheStore: CacheStore
  }
}

/**
 * Keys written through the public cache API live under their own namespace
 * (`<REDIS_KEY_PREFIX>cache:<key>`), apart from the service's internal keys, so
 * no client can read or overwrite those.
 */
const PUBLIC_NAMESPACE = 'cache:'

// Value and seconds left in one command: one round trip, and the two cannot
// disagree (the key cannot expire between them).
const GET_WITH_TTL = `
  local value = redis.call('GET', KEYS[1])
  if not value then return false end
  return { value, redis.call('TTL', KEYS[1]) }`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** The value and its seconds left, or null when the key is absent. */
    getWithTtl(key: string): Result<[string, number] | null, Context>
  }
}

// Redis at its maxmemory with nothing it may evict (policy noeviction, or a
// value larger than what eviction frees) refuses writes with this error.
const OUT_OF_MEMORY = /^OOM /

interface CacheStoreOptions {
  /** The largest value stored, in bytes of its JSON. */
  maxValueBytes: number
}

export default fp(
  async function cacheStorePlugin(fastify, { maxValueBytes }: CacheStoreOptions) {
    const redis = fastify.redis
    redis.defineCommand('getWithTtl', { numberOfKeys: 1, lua: GET_WITH_TTL })

    // The error handler logs the 503 with its cause, under the request's id.
    function unavailable(err: unknown): never {
      if (err instanceof Error && OUT_OF_MEMORY.test(err.message)) throw new CacheFullError({ cause: err })
      throw new CacheUnavailableError({ cause: err })
    }

    const store: CacheStore = {
      async set(key, value, ttlSeconds) {
        const json = JSON.stringify(value)
        const bytes = Buffer.byteLength(json)
        if (bytes > maxValueBytes) throw new CacheValueTooLargeError(bytes, maxValueBytes)
        await redis.set(PUBLIC_NAMESPACE + key, json, 'EX', ttlSeconds).catch(unavailable)
      },
      async get(key) {
        const entry = await redis.getWithTtl(PUBLIC_NAMESPACE + key).catch(unavailable)
        if (entry === null) return null
        const [stored, ttl] = entry
        // A key without an expiry (-1) cannot come from this API; report 0 seconds left then.
        return { key, value: JSON.parse(stored), ttl: Math.max(ttl, 0) }
      },
    }
    fastify.decorate('cacheStore', store)
  },
  { name: 'cache-store', dependencies: ['redis'], fastify: '5.x' },
)
