import fp from 'fastify-plugin'
import type { Result } from 'ioredis'
import { CacheUnavailableError } from '../../lib/errors.ts'
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

export default fp(
  async function cacheStorePlugin(fastify) {
    const redis = fastify.redis
    redis.defineCommand('getWithTtl', { numberOfKeys: 1, lua: GET_WITH_TTL })

    // The error handler logs the 503 with its cause, under the request's id.
    function unavailable(err: unknown): never {
      throw new CacheUnavailableError({ cause: err })
    }

    const store: CacheStore = {
      async set(key, value, ttlSeconds) {
        await redis.set(PUBLIC_NAMESPACE + key, JSON.stringify(value), 'EX', ttlSeconds).catch(unavailable)
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
