import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { Callback, Redis, Result } from 'ioredis'
import type { Config } from '../../lib/config.ts'
import { RateLimitedError } from '../../lib/errors.ts'

/**
 * Where the counters live: `<REDIS_KEY_PREFIX>ratelimit:<client address>`,
 * among the service's internal keys, apart from the public `cache:` ones.
 */
export const RATE_LIMIT_NAMESPACE = 'ratelimit:'

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1]

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Adds `count` to the window's counter (starting the window when there is none): the new total and ms left. */
    rateLimitAdd(
      key: string,
      count: number,
      windowMs: number,
      callback?: Callback<[number, number]>,
    ): Result<[number, number], Context>
  }
}

const RATE_LIMIT_ADD = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return { total, ttl }`

/** Tells a failing store from a working one, and logs only the changes. */
interface StoreState {
  failed(err: Error): void
  succeeded(): void
  /** True for a while after a failure: requests then skip the store instead of waiting on it. */
  resting(): boolean
}

// A hung Redis would make every request wait REDIS_COMMAND_TIMEOUT_MS for the
// limiter before its own work. The limiter waits at most
// RATE_LIMIT_STORE_TIMEOUT_MS (250 ms by default) for its count, and after a
// failure stays out of the way for REST_AFTER_FAILURE_MS (or until the client
// reconnects) before asking again.
const REST_AFTER_FAILURE_MS = 5000
const RESTING = new Error('rate limit store resting after a failure')

/**
 * Counts in Redis, exactly, one round trip per batch rather than per request:
 * the requests that arrive in one turn of the event loop wait together, and
 * those of one client address become a single INCRBY whose total numbers them
 * in order. Every request still gets its own exact count (no overshoot, across
 * replicas too). When Redis cannot answer within `timeoutMs` the batch
 * fails open: the plugin (`skipOnError`) lets its requests through.
 */
class BatchingRedisStore implements FastifyRateLimitStore {
  private readonly redis: Redis
  private readonly state: StoreState
  private readonly timeoutMs: number
  private readonly timeoutError: Error
  private waiting = new Map<string, IncrCallback[]>()
  private windowMs = 0

  constructor(redis: Redis, state: StoreState, timeoutMs: number) {
    this.redis = redis
    this.state = state
    this.timeoutMs = timeoutMs
    this.timeoutError = new Error(`rate limit store did not answer within ${timeoutMs} ms`)
  }

  incr(key: string, callback: IncrCallback, timeWindow: number) {
    if (this.state.resting()) {
      callback(RESTING, { current: 0, ttl: timeWindow })
      return
    }
    if (this.waiting.size === 0) setImmediate(this.send)
    this.windowMs = timeWindow
    const callbacks = this.waiting.get(key)
    if (callbacks) callbacks.push(callback)
    else this.waiting.set(key, [callback])
  }

  private readonly send = () => {
    const batch = this.waiting
    const windowMs = this.windowMs
    this.waiting = new Map()
    let answered = false
    const fail = (err: Error) => {
      for (const callbacks of batch.values())
        for (const callback of callbacks) callback(err, { current: 0, ttl: windowMs })
    }
    const timer = setTimeout(() => {
      answered = true
      this.state.failed(this.timeoutError)
      fail(this.timeoutError)
    }, this.timeoutMs)
    const answer = (key: string, err: Error | null | undefined, reply: [number, number] | undefined) => {
      const callbacks = batch.get(key) ?? []
      if (err || !reply) return fail(err ?? new Error('no reply'))
      const [total, ttl] = reply
      // The INCRBY counted them all at once: number them in arrival order.
      for (const [i, callback] of callbacks.entries()) {
        callback(null, { current: total - callbacks.length + 1 + i, ttl })
      }
    }
    const done = (err: Error | null) => {
      clearTimeout(timer)
      answered = true
      if (err) this.state.failed(err)
      else this.state.succeeded()
    }
    if (batch.size === 1) {
      const [[key, callbacks]] = batch
      this.redis.rateLimitAdd(RATE_LIMIT_NAMESPACE + key, callbacks.length, windowMs, (err, reply) => {
        if (answered) return
        done(err ?? null)
        answer(key, err, reply)
      })
      return
    }
    const pipeline = this.redis.pipeline()
    for (const [key, callbacks] of batch) pipeline.rateLimitAdd(RATE_LIMIT_NAMESPACE + key, callbacks.length, windowMs)
    pipeline.exec((err, replies) => {
      if (answered) return
      done(err ?? replies?.find(([commandErr]) => commandErr)?.[0] ?? null)
      if (err || !replies) return fail(err ?? new Error('pipeline aborted'))
      let i = 0
      for (const key of batch.keys()) {
        const [commandErr, reply] = replies[i++]
        answer(key, commandErr, reply as [number, number] | undefined)
      }
    })
  }

  child() {
    return this
  }
}

/**
 * At most RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS per client address,
 * counted in Redis so the budget holds across replicas. Routes opt out with
 * `config: { rateLimit: false }` (health checks, metrics). RATE_LIMIT_MAX=0
 * turns it off.
 */
export default fp(
  async function rateLimitPlugin(fastify, { config }: { config: Config }) {
    const log = fastify.log.child({ plugin: 'rate-limit' })
    if (config.RATE_LIMIT_MAX === 0) {
      log.info('rate limiting disabled (RATE_LIMIT_MAX=0)')
      return
    }

    let available = true
    let retryAt = 0
    const state: StoreState = {
      failed(err) {
        if (available) log.warn({ err }, 'rate limit store unavailable: requests pass unlimited until it answers')
        available = false
        retryAt = Date.now() + REST_AFTER_FAILURE_MS
      },
      succeeded() {
        if (!available) log.info('rate limit store answers again: limits apply')
        available = true
      },
      resting: () => !available && Date.now() < retryAt,
    }
    const redis = fastify.redis
    redis.defineCommand('rateLimitAdd', { numberOfKeys: 1, lua: RATE_LIMIT_ADD })
    // A reconnected client ends the rest at once.
    redis.on('ready', () => {
      retryAt = 0
    })

    await fastify.register(fastifyRateLimit, {
      max: config.RATE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      store: class AppStore extends BatchingRedisStore {
        constructor() {
          super(redis, state, config.RATE_LIMIT_STORE_TIMEOUT_MS)
        }
      },
      skipOnError: true,
      errorResponseBuilder: (_request, context) => new RateLimitedError(context.after),
    })
  },
  { name: 'rate-limit', dependencies: ['redis'], fastify: '5.x' },
)
