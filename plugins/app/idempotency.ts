import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Result } from 'ioredis'
import { canonicalJson } from '../../lib/canonical-json.ts'
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError, IdempotencyUnavailableError } from '../../lib/errors.ts'
import type { ResumeAttempt } from '../../lib/route-config.ts'
import { appendRouteHook } from '../../lib/route-hooks.ts'
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf, REPLAYED_HEADER } from '../../lib/schemas/idempotency.ts'

type ClaimOutcome = 'claimed' | 'resumed' | 'held'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See CLAIM: the outcome, and the claim made or the record held. */
    claimIdempotencyKey(
      key: string,
      fingerprint: string,
      token: string,
      leaseMs: number,
      ttlSeconds: number,
    ): Result<[ClaimOutcome, string], Context>
    /** Sets `key` to `value` for `ttlSeconds` only while it holds `expected`: 1, else 0. */
    replaceIfHolding(key: string, expected: string, value: string, ttlSeconds: number): Result<number, Context>
  }
}

// Claims a key in one step: a free key ('claimed'), or one that holds a claim
// of the same request whose lease has ended ('resumed': that attempt may have
// written, and its outcome is unknown); else answers what the key holds
// ('held'). Leases are counted in Redis's time, the same for every replica.
const CLAIM = `
local held = redis.call('GET', KEYS[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local outcome = 'claimed'
if held then
  local record = cjson.decode(held)
  if record.status or record.fingerprint ~= ARGV[1] or record.leaseEnds > now then return { 'held', held } end
  outcome = 'resumed'
end
local claim = cjson.encode({ fingerprint = ARGV[1], token = ARGV[2], leaseEnds = now + tonumber(ARGV[3]) })
redis.call('SET', KEYS[1], claim, 'EX', ARGV[4])
return { outcome, claim }`

const REPLACE_IF_HOLDING = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`

/** `<REDIS_KEY_PREFIX>idempotency:<caller>:<key>`, apart from the public `cache:` namespace. */
const NAMESPACE = 'idempotency:'
/** How long a key's record lives: a claim (even one whose lease ended) or an answer. */
const RECORD_TTL_SECONDS = 24 * 3600
/** The largest answer body kept for replay. Those of POST /users and POST /cache stay under 4 KiB. */
export const MAX_ANSWER_BYTES = 8 * 1024
/** The answer's headers a replay gives back, with its status and body. */
const KEPT_HEADERS = ['location', 'content-type']
const RETRY_IN_PROGRESS_AFTER_SECONDS = 1

/** What a key holds while a request runs: its fingerprint, a token of its own and when its lease ends. */
interface Claim {
  fingerprint: string
  token: string
  /** Redis time, in ms; 0 once the request ended without an answer to keep. */
  leaseEnds: number
}

/** What a key holds once its request was answered. */
interface Answer {
  fingerprint: string
  status: number
  headers: Record<string, string>
  body: string
}

interface InFlight {
  redisKey: string
  /** The claim as stored: only the request that made it may replace it. */
  claim: string
  fingerprint: string
  token: string
}

/** What the hooks know of a route that takes keys. */
interface KeyedRoute {
  leaseMs: number
  resume?: ResumeAttempt
}

interface IdempotencyOptions {
  /** API keys are on: keys are kept per API key, and one caller can neither see nor replay another's answers. */
  perApiKey: boolean
  /** REDIS_COMMAND_TIMEOUT_MS: a lease outlives its route's handler timeout by this, the time to store the answer. */
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

/**
 * Safe retries of writes, after draft-ietf-httpapi-idempotency-key-header. A
 * route opts in with `config: { idempotencyKey: true }` (or `{ resume }`) and
 * declares the header (lib/schemas/idempotency.ts), which its schema validates.
 *
 * A request with a key claims it in Redis before its handler runs (one round
 * trip, atomic across replicas), with a lease of the route's handler timeout
 * plus the time to store the answer. The answer replaces the claim before it
 * is sent: whoever got an answer can get it again. Records live 24 hours. A
 * request with the same key then
 *   - and the same fingerprint gets the stored status, `location` and body,
 *     with `idempotent-replayed: true`, and its handler never runs;
 *   - and another fingerprint is a 422;
 *   - while the lease runs is a 409 with `retry-after`;
 *   - after the lease ended without an answer (its replica died, Redis failed
 *     after the write, a 5xx, a handler timeout) resumes the claim: the route's
 *     `resume` may find what that attempt wrote and answer from it (marked as a
 *     replay), else the handler runs again.
 * Redis unavailable: a request with a key is a 503 and runs nothing; without a
 * key, nothing changes. An answer that cannot be stored is sent all the same,
 * and logged.
 */
export default fp(
  async function idempotencyPlugin(fastify, { perApiKey, commandTimeoutMs }: IdempotencyOptions) {
    const redis = fastify.redis
    redis.defineCommand('claimIdempotencyKey', { numberOfKeys: 1, lua: CLAIM })
    redis.defineCommand('replaceIfHolding', { numberOfKeys: 1, lua: REPLACE_IF_HOLDING })

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

    /** Claims the key for this request (false: the handler runs), or answers it (true). */
    async function claimOrAnswer(request: FastifyRequest, reply: FastifyReply, field: string, route: KeyedRoute) {
      const redisKey = `${NAMESPACE}${callerOf(request)}:${idempotencyKeyOf(field)}`
      const fingerprint = fingerprintOf(request)
      const token = randomUUID()
      let outcome: ClaimOutcome
      let record: string
      try {
        ;[outcome, record] = await redis.claimIdempotencyKey(
          redisKey,
          fingerprint,
          token,
          route.leaseMs,
          RECORD_TTL_SECONDS,
        )
      } catch (err) {
        throw new IdempotencyUnavailableError({ cause: err })
      }
      if (outcome !== 'held') {
        inFlight.set(request, { redisKey, claim: record, fingerprint, token })
        return outcome === 'resumed' && route.resume !== undefined && resume(route.resume, request, reply)
      }
      const held: Claim | Answer = JSON.parse(record)
      if (held.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
      if (!('status' in held)) {
        reply.header('retry-after', RETRY_IN_PROGRESS_AFTER_SECONDS)
        throw new IdempotencyKeyInUseError()
      }
      reply.code(held.status).headers(held.headers).header(REPLAYED_HEADER, 'true').send(held.body)
      return true
    }

    /** What the earlier attempt wrote, answered as a replay: it was written once, then. */
    async function resume(resumeAttempt: ResumeAttempt, request: FastifyRequest, reply: FastifyReply) {
      reply.header(REPLAYED_HEADER, 'true')
      let answered = false
      try {
        answered = await resumeAttempt(request, reply)
        return answered
      } finally {
        if (!answered) reply.removeHeader(REPLAYED_HEADER)
      }
    }

    /** Stores the answer in place of the claim, or ends the claim's lease after a 5xx. Never throws. */
    async function settle(
      request: FastifyRequest,
      reply: FastifyReply,
      { redisKey, claim, fingerprint, token }: InFlight,
      payload: unknown,
    ) {
      const log = request.log
      if (reply.statusCode >= 500) {
        // A handler that timed out may still write: its lease runs out by itself.
        if (handlerTimedOut(request)) return
        const ended = JSON.stringify({ fingerprint, token, leaseEnds: 0 } satisfies Claim)
        await redis
          .replaceIfHolding(redisKey, claim, ended, RECORD_TTL_SECONDS)
          .catch((err) => log.warn({ err, redisKey }, 'idempotency lease not ended after a 5xx: it runs out by itself'))
        return
      }
      const body = payload == null ? '' : typeof payload === 'string' ? payload : undefined
      if (body === undefined || Buffer.byteLength(body) > MAX_ANSWER_BYTES) {
        log.warn(
          { redisKey, maxBytes: MAX_ANSWER_BYTES },
          'answer not kept for its idempotency key (too large, or not text): a retry resumes when the lease ends',
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
        if ((await redis.replaceIfHolding(redisKey, claim, answer, RECORD_TTL_SECONDS)) === 0) {
          log.warn({ redisKey }, 'idempotency claim lost (resumed by another request, or evicted) before its answer')
        }
      } catch (err) {
        log.error({ err, redisKey }, 'answer not stored for its idempotency key: a retry resumes when the lease ends')
      }
    }

    function claimHook(route: KeyedRoute): preHandlerHookHandler {
      return (request, reply, done) => {
        const field = request.headers[IDEMPOTENCY_KEY_HEADER]
        if (field === undefined) return done()
        claimOrAnswer(request, reply, String(field), route).then((answered) => {
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
      const option = route.config?.idempotencyKey
      if (option === undefined) return
      if (!route.handlerTimeout) {
        throw new Error(`${route.method} ${route.url}: idempotencyKey needs a handler timeout, which bounds a lease`)
      }
      const hook = claimHook({
        leaseMs: route.handlerTimeout + commandTimeoutMs,
        resume: option === true ? undefined : option.resume,
      })
      appendRouteHook(route, 'preHandler', hook)
      appendRouteHook(route, 'onSend', storeAnswer)
    })
  },
  { name: 'idempotency', dependencies: ['redis'], fastify: '5.x' },
)
