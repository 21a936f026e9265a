import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Result } from 'ioredis'
import { canonicalJson } from '../../lib/canonical-json.ts'
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError, IdempotencyUnavailableError } from '../../lib/errors.ts'
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf, REPLAYED_HEADER } from '../../lib/schemas/idempotency.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours the Idempotency-Key request header (plugins/app/idempotency.ts). */
    idempotencyKey?: boolean
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Sets `key` to `value` for `ttlSeconds` only while it holds `expected`: 1, else 0. */
    replaceIfHolding(key: string, expected: string, value: string, ttlSeconds: number): Result<number, Context>
    /** Deletes `key` only while it holds `expected`: 1, else 0. */
    deleteIfHolding(key: string, expected: string): Result<number, Context>
  }
}

const REPLACE_IF_HOLDING = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`

const DELETE_IF_HOLDING = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`

/** `<REDIS_KEY_PREFIX>idempotency:<caller>:<key>`, apart from the public `cache:` namespace. */
const NAMESPACE = 'idempotency:'
const ANSWER_TTL_SECONDS = 24 * 3600
/** The largest answer body kept for replay. Those of POST /users and POST /cache stay under 4 KiB. */
export const MAX_ANSWER_BYTES = 8 * 1024
/** The answer's headers a replay gives back, with its status and body. */
const KEPT_HEADERS = ['location', 'content-type']
const RETRY_IN_PROGRESS_AFTER_SECONDS = 1

/** What a key holds while its first request runs: that request's fingerprint and a token of its own. */
interface Claim {
  fingerprint: string
  claim: string
}

/** What a key holds once its first request was answered. */
interface Answer {
  fingerprint: string
  status: number
  headers: Record<string, string>
  body: string
}

interface InFlight {
  redisKey: string
  /** The claim as stored: only the request that wrote it may replace or delete it. */
  claim: string
  fingerprint: string
}

interface IdempotencyOptions {
  /** API keys are on: keys are kept per API key, and one caller can neither see nor replay another's answers. */
  perApiKey: boolean
  /** REDIS_COMMAND_TIMEOUT_MS: a claim outlives its route's handler timeout by this, the time to store the answer. */
  commandTimeoutMs: number
}

/** A request's identity for its key: the method, the URL as sent and the body as validated, in canonical JSON. */
function fingerprintOf(request: FastifyRequest): string {
  const canonical = `${request.method} ${request.url}\n${canonicalJson(request.body)}`
  return createHash('sha256').update(canonical).digest('base64url')
}

function handlerTimedOut(request: FastifyRequest): boolean {
  return (request.signal.reason as { code?: string } | undefined)?.code === 'FST_ERR_HANDLER_TIMEOUT'
}

function hooksOf<Hook>(hooks: Hook | Hook[] | undefined): Hook[] {
  if (hooks === undefined) return []
  return Array.isArray(hooks) ? [...hooks] : [hooks]
}

/**
 * Safe retries of writes, after draft-ietf-httpapi-idempotency-key-header. A
 * route opts in with `config: { idempotencyKey: true }` and declares the
 * header (lib/schemas/idempotency.ts), which its schema validates (else 400).
 *
 * A request with a key claims it in Redis (SET NX, one round trip) before its
 * handler runs; the claim expires after the route's handler timeout plus the
 * time to store the answer, so the claim of a process that died frees itself.
 * The answer is stored in place of the claim, for 24 hours, before it is sent:
 * whoever got an answer can get it again. Then a request with the same key
 *   - and the same fingerprint gets the stored status, `location` and body,
 *     with `idempotent-replayed: true`, and its handler never runs;
 *   - and another fingerprint is a 422;
 *   - while the claim is held is a 409 with `retry-after`.
 * A 5xx answer releases the claim (a retry runs the write again), except a
 * handler timeout: that handler may still write, so its claim runs out.
 * Redis unavailable: a request with a key is a 503 and runs nothing; without a
 * key, nothing changes. An answer that cannot be stored (Redis failed after the
 * write, or over MAX_ANSWER_BYTES) is sent all the same and logged: retries get
 * 409 until the claim runs out, then run the write again (docs/api.md says what
 * that does per route).
 */
export default fp(
  async function idempotencyPlugin(fastify, { perApiKey, commandTimeoutMs }: IdempotencyOptions) {
    const redis = fastify.redis
    redis.defineCommand('replaceIfHolding', { numberOfKeys: 1, lua: REPLACE_IF_HOLDING })
    redis.defineCommand('deleteIfHolding', { numberOfKeys: 1, lua: DELETE_IF_HOLDING })

    const inFlight = new WeakMap<FastifyRequest, InFlight>()

    // With API keys on, the routes that take a key checked the Authorization
    // header in onRequest: what follows its scheme, trimmed (as
    // @fastify/bearer-auth reads it), is the caller's API key. Redis holds only
    // a hash of it.
    function callerOf(request: FastifyRequest): string {
      if (!perApiKey) return 'any'
      const authorization = request.headers.authorization ?? ''
      const apiKey = authorization.slice(authorization.indexOf(' ') + 1).trim()
      return createHash('sha256').update(apiKey).digest('base64url').slice(0, 22)
    }

    /** Claims the key for this request (false), or answers it from what the key holds (true). */
    async function claimOrAnswer(request: FastifyRequest, reply: FastifyReply, field: string, claimMs: number) {
      const redisKey = `${NAMESPACE}${callerOf(request)}:${idempotencyKeyOf(field)}`
      const fingerprint = fingerprintOf(request)
      const claim = JSON.stringify({ fingerprint, claim: randomUUID() } satisfies Claim)
      let held: string | null
      try {
        held = await redis.set(redisKey, claim, 'PX', claimMs, 'NX', 'GET')
      } catch (err) {
        throw new IdempotencyUnavailableError({ cause: err })
      }
      if (held === null) {
        inFlight.set(request, { redisKey, claim, fingerprint })
        return false
      }
      const record: Claim | Answer = JSON.parse(held)
      if (record.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
      if (!('status' in record)) {
        reply.header('retry-after', RETRY_IN_PROGRESS_AFTER_SECONDS)
        throw new IdempotencyKeyInUseError()
      }
      reply.code(record.status).headers(record.headers).header(REPLAYED_HEADER, 'true').send(record.body)
      return true
    }

    /** Stores the answer in place of the claim, or releases the claim after a 5xx. Never throws. */
    async function settle(
      request: FastifyRequest,
      reply: FastifyReply,
      { redisKey, claim, fingerprint }: InFlight,
      payload: unknown,
    ) {
      const log = request.log
      if (reply.statusCode >= 500) {
        if (handlerTimedOut(request)) return
        await redis
          .deleteIfHolding(redisKey, claim)
          .catch((err) =>
            log.warn({ err, redisKey }, 'idempotency claim not released after a 5xx: it runs out by itself'),
          )
        return
      }
      const body = payload == null ? '' : typeof payload === 'string' ? payload : undefined
      if (body === undefined || Buffer.byteLength(body) > MAX_ANSWER_BYTES) {
        log.warn(
          { redisKey, maxBytes: MAX_ANSWER_BYTES },
          'answer not kept for its idempotency key (too large, or not text): retries wait for the claim to run out',
        )
        return
      }
      const headers: Record<string, string> = {}
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name)
        if (value !== undefined) headers[name] = String(value)
      }
      const answer = JSON.stringify({ fingerprint, status: reply.statusCode, headers, body } satisfies Answer)
      try {
        if ((await redis.replaceIfHolding(redisKey, claim, answer, ANSWER_TTL_SECONDS)) === 0) {
          log.warn({ redisKey }, 'idempotency claim ran out (or was evicted) before its answer was stored')
        }
      } catch (err) {
        log.error({ err, redisKey }, 'answer not stored for its idempotency key: retries wait for the claim to run out')
      }
    }

    function claimHook(claimMs: number): preHandlerHookHandler {
      return (request, reply, done) => {
        const field = request.headers[IDEMPOTENCY_KEY_HEADER]
        if (field === undefined) return done()
        claimOrAnswer(request, reply, String(field), claimMs).then((answered) => {
          if (!answered) done()
        }, done)
      }
    }

    const storeAnswer: onSendHookHandler = (request, reply, payload, done) => {
      const claimed = inFlight.get(request)
      if (claimed === undefined) return done(null, payload)
      inFlight.delete(request)
      settle(request, reply, claimed, payload).then(() => done(null, payload))
    }

    fastify.addHook('onRoute', (route) => {
      if (route.config?.idempotencyKey !== true) return
      if (!route.handlerTimeout) {
        throw new Error(`${route.method} ${route.url}: idempotencyKey needs a handler timeout, which bounds a claim`)
      }
      route.preHandler = [...hooksOf(route.preHandler), claimHook(route.handlerTimeout + commandTimeoutMs)]
      route.onSend = [...hooksOf(route.onSend), storeAnswer]
    })
  },
  { name: 'idempotency', dependencies: ['redis'], fastify: '5.x' },
)
