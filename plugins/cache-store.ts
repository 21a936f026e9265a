import fp from 'fastify-plugin'
import { CacheUnavailableError } from '../src/errors.ts'

export interface CachedEntry {
  value: unknown
  /** Seconds left before the key expires. */
  ttl: number
}

export interface CacheStore {
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>
  /** The entry, or null when the key is absent or expired. */
  get(key: string): Promise<CachedEntry | null>
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
export const PUBLIC_NAMESPACE = 'cache:'

export default fp(
  async function cacheStorePlugin(fastify) {
    const redis = fastify.redis

    // The error handler logs the 503 with its cause, under the request's id.
    function unavailable(err: unknown): never {
      throw new CacheUnavailableError({ cause: err })
    }

    const store: CacheStore = {
      async set(key, value, ttlSeconds) {
        await redis.set(PUBLIC_NAMESPACE + key, JSON.stringify(value), 'EX', ttlSeconds).catch(unavailable)
      },
      async get(key) {
        // GET and TTL in one round trip: issued in the same tick, the client's
        // auto-pipelining sends them in one write.
        const [stored, ttl] = await Promise.all([
          redis.get(PUBLIC_NAMESPACE + key),
          redis.ttl(PUBLIC_NAMESPACE + key),
        ]).catch(unavailable)
        if (stored === null) return null
        // The key may expire between GET and TTL: report 0 seconds left then.
        return { value: JSON.parse(stored), ttl: Math.max(ttl, 0) }
      },
    }
    fastify.decorate('cacheStore', store)
  },
  { name: 'cache-store', dependencies: ['cache'], fastify: '5.x' },
)
