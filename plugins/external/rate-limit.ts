import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'
import { RateLimitedError } from '../../lib/errors.ts'

/**
 * Where the counters live: `<REDIS_KEY_PREFIX>ratelimit:<client address>`,
 * among the service's internal keys, apart from the public `cache:` ones.
 */
export const RATE_LIMIT_NAMESPACE = 'ratelimit:'

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1]

/** Tells a failing store from a working one, and logs only the changes. */
interface StoreState {
  failed(err: Error): void
  succeeded(): void
  /** True for a while after a failure: requests then skip the store instead of waiting on it. */
  resting(): boolean
}

// A hung Redis would make every request wait REDIS_COMMAND_TIMEOUT_MS for the
// limiter before its own work. The limiter waits at most STORE_TIMEOUT_MS for
// its count, and after a failure stays out of the way for REST_AFTER_FAILURE_MS
// (or until the client reconnects) before asking again.
const STORE_TIMEOUT_MS = 250
const REST_AFTER_FAILURE_MS = 5000
const RESTING = new Error('rate limit store resting after a failure')
const STORE_TIMEOUT = new Error(`rate limit store did not answer within ${STORE_TIMEOUT_MS} ms`)

/**
 * The Redis store, failing open: when Redis cannot answer, the plugin
 * (`skipOnError`) lets the request through, and this wrapper says so in the log.
 */
class FailOpenStore implements FastifyRateLimitStore {
  readonly inner: FastifyRateLimitStore
  readonly state: StoreState

  constructor(inner: FastifyRateLimitStore, state: StoreState) {
    this.inner = inner
    this.state = state
  }

  incr(key: string, callback: IncrCallback, timeWindow: number, max: number) {
    if (this.state.resting()) {
      callback(RESTING, { current: 0, ttl: timeWindow })
      return
    }
    let answered = false
    const timer = setTimeout(() => {
      answered = true
      this.state.failed(STORE_TIMEOUT)
      callback(STORE_TIMEOUT, { current: 0, ttl: timeWindow })
    }, STORE_TIMEOUT_MS)
    this.inner.incr(
      key,
      (err, result) => {
        if (answered) return
        answered = true
        clearTimeout(timer)
        if (err) this.state.failed(err)
        else this.state.succeeded()
        callback(err, result)
      },
      timeWindow,
      max,
    )
  }

  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]) {
    return new FailOpenStore(this.inner.child(routeOptions), this.state)
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
    // A reconnected client ends the rest at once.
    redis.on('ready', () => {
      retryAt = 0
    })

    await fastify.register(fastifyRateLimit, {
      max: config.RATE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      store: class AppStore extends FailOpenStore {
        constructor() {
          super(new RedisStore(false, false, redis, RATE_LIMIT_NAMESPACE), state)
        }
      },
      skipOnError: true,
      errorResponseBuilder: (_request, context) => new RateLimitedError(context.after),
    })
  },
  { name: 'rate-limit', dependencies: ['redis'], fastify: '5.x' },
)
