import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Result } from 'ioredis'
import type { CacheOutcome, UserRead } from '../../lib/schemas/users.ts'

interface UserCache {
  /**
   * Cache-aside read of one user: the cached user, else `load()` from Postgres
   * (the user's JSON text), cached when it found one (a missing user is never
   * cached, and reads as null). Redis failures never fail it. The user is
   * parsed from the JSON either way, for the route to serialize.
   */
  read(id: number, load: () => Promise<string | null>): Promise<UserRead | null>
  /** To call once a write to the user has committed. Never throws: a failure is retried. */
  invalidate(id: number): Promise<void>
}

interface UserCacheOptions {
  ttlSeconds: number
}

declare module 'fastify' {
  interface FastifyInstance {
    userCache: UserCache
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fillUserIfUnchanged(
      entryKey: string,
      versionKey: string,
      seenVersion: string,
      user: string,
      ttlSeconds: number,
    ): Result<number, Context>
  }
}

// Internal keys, outside the public `cache:` namespace.
const entryKey = (id: number) => `users:${id}`
const versionKey = (id: number) => `users:${id}:version`

// Every write stamps the user's version key with a new random value. A miss
// notes the version before it reads Postgres (stamping one when there is none)
// and fills the cache only if the version is still the same, so a row read
// before a write cannot be cached after that write's invalidation. Random
// values (not a counter) cannot come back to a value a reader noted, even if
// Redis restarts empty. A version key evicted (Redis at its memory bound) or
// expired meanwhile matches no noted value: the fill is dropped, never a stale
// row cached. The version outlives any read in flight by far.
const VERSION_TTL_SECONDS = 24 * 3600

const FILL_IF_UNCHANGED = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`

const RETRY_INVALIDATION_MS = 1000

export default fp(
  async function userCachePlugin(fastify, { ttlSeconds }: UserCacheOptions) {
    const redis = fastify.redis
    const log = fastify.log.child({ plugin: 'user-cache' })
    redis.defineCommand('fillUserIfUnchanged', { numberOfKeys: 2, lua: FILL_IF_UNCHANGED })

    // Users whose invalidation failed. Until it succeeds, their cached entry may
    // be stale: reads of them bypass the cache, and a timer retries.
    const pending = new Set<number>()
    let retryTimer: NodeJS.Timeout | undefined
    let closing = false

    async function tryInvalidate(id: number): Promise<boolean> {
      try {
        const replies = await redis
          .multi()
          .set(versionKey(id), randomUUID(), 'EX', VERSION_TTL_SECONDS)
          .del(entryKey(id))
          .exec()
        const failed = replies?.find(([err]) => err)
        if (!replies || failed) throw failed?.[0] ?? new Error('transaction aborted')
        pending.delete(id)
        return true
      } catch (err) {
        if (!pending.has(id)) log.warn({ err, id }, 'user cache invalidation failed, retrying')
        pending.add(id)
        if (!closing) retryTimer ??= setTimeout(retryPending, RETRY_INVALIDATION_MS).unref()
        return false
      }
    }

    async function retryPending() {
      retryTimer = undefined
      for (const id of pending) {
        if (!(await tryInvalidate(id))) return
      }
      log.info('pending user cache invalidations done')
    }

    async function read(id: number, load: () => Promise<string | null>): Promise<UserRead | null> {
      const parsed = (json: string | null, cache: CacheOutcome) =>
        json === null ? null : { user: JSON.parse(json), cache }
      if (pending.has(id) && !(await tryInvalidate(id))) return parsed(await load(), 'bypass')

      let cached: string | null
      let seenVersion: string | null
      try {
        ;[cached, seenVersion] = await redis.mget(entryKey(id), versionKey(id))
        // No version yet: stamp one (or note the one another reader stamped first).
        if (cached === null && seenVersion === null) {
          const stamp = randomUUID()
          seenVersion = (await redis.set(versionKey(id), stamp, 'EX', VERSION_TTL_SECONDS, 'NX', 'GET')) ?? stamp
        }
      } catch (err) {
        log.debug({ err, id }, 'user cache unavailable, reading Postgres')
        return parsed(await load(), 'bypass')
      }
      if (cached !== null) {
        try {
          return parsed(cached, 'hit')
        } catch (err) {
          // Not JSON (written by hand, or damaged): dropped, and this read served from Postgres.
          log.warn({ err, id }, 'unreadable user cache entry dropped')
          await tryInvalidate(id)
          return parsed(await load(), 'bypass')
        }
      }

      const json = await load()
      if (json !== null) {
        await redis
          .fillUserIfUnchanged(entryKey(id), versionKey(id), seenVersion ?? '', json, ttlSeconds)
          .catch((err) => log.debug({ err, id }, 'user cache fill failed'))
      }
      return parsed(json, 'miss')
    }

    async function invalidate(id: number) {
      await tryInvalidate(id)
    }

    fastify.decorate('userCache', { read, invalidate })
    fastify.addHook('onClose', async () => {
      closing = true
      clearTimeout(retryTimer)
    })
  },
  { name: 'user-cache', dependencies: ['redis'], fastify: '5.x' },
)
