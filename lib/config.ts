import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const Port = (defaultPort: number) => Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort })

/** `X_FILE`: the file X is read from, as the official postgres image reads POSTGRES_PASSWORD_FILE. */
const SecretFile = (variable: string) =>
  Type.String({
    default: '',
    description: `A file whose content (trailing line breaks removed) is ${variable}; not together with ${variable}`,
  })

/** The variables that may be read from a file named by `<name>_FILE`. */
const FROM_FILE = ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'API_KEYS'] as const

/** Never echoed in an error message. */
const SECRET = new Set(['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'API_KEYS'])

/**
 * The settings: what differs between one deployment and another, each an
 * environment variable (docs/configuration.md). Where Postgres and Redis are
 * is said one way, in parts (POSTGRES_HOST, POSTGRES_PORT, ...): the names the
 * official postgres image reads, so Compose and Kubernetes pass the same
 * values to both, and a password with any character needs no URL encoding.
 */
export const ConfigSchema = Type.Object({
  PORT: Port(5000),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Unsafe<(typeof LOG_LEVELS)[number]>({ type: 'string', enum: [...LOG_LEVELS], default: 'info' }),

  POSTGRES_HOST: Type.String({ minLength: 1, default: 'localhost' }),
  POSTGRES_PORT: Port(5432),
  POSTGRES_DB: Type.String({ minLength: 1, default: 'desafio3' }),
  POSTGRES_USER: Type.String({ minLength: 1, default: 'postgres' }),
  POSTGRES_PASSWORD: Type.Optional(Type.String()),
  POSTGRES_PASSWORD_FILE: SecretFile('POSTGRES_PASSWORD'),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),

  REDIS_HOST: Type.String({ minLength: 1, default: 'localhost' }),
  REDIS_PORT: Port(6379),
  REDIS_PASSWORD: Type.Optional(Type.String()),
  REDIS_PASSWORD_FILE: SecretFile('REDIS_PASSWORD'),

  API_KEYS: Type.String({
    default: '',
    description:
      'API keys that may write (POST, PATCH, DELETE), separated by commas or line breaks; each 16 or more of ' +
      'A-Z a-z 0-9 - . _ ~ + /. Writes then need `Authorization: Bearer <key>`. Empty: writes are open to anyone',
  }),
  API_KEYS_FILE: SecretFile('API_KEYS'),
  // Requests per RATE_LIMIT_WINDOW_MS per client address; 0 turns rate limiting off.
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 300 }),
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(\\*|(https?://[^,\\s]+)(,https?://[^,\\s]+)*)?$',
    description: 'Comma-separated origins allowed by CORS, or * for any; empty disables CORS',
  }),
  TRUST_PROXY: Type.String({
    default: 'false',
    description:
      'Which peers may set the client address through X-Forwarded-For (Fastify trustProxy): false, true (any), ' +
      'a hop count, or a comma-separated list of addresses and CIDR ranges (also loopback, linklocal, uniquelocal)',
  }),
  METRICS_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 0,
    description:
      'Port of a second listener (on HOST) that serves only /metrics, which the public port then answers with 404; ' +
      '0: /metrics is served on PORT',
  }),
})

/**
 * The constants: bounds and sizes the same in every deployment, each with why
 * it is this value. Not read from the environment; a test passes its own to
 * `loadConfig` (shorter bounds, a key prefix of its own).
 */
export const TUNING = {
  // Postgres answers a connect in milliseconds on any network a stack runs on;
  // a second without an answer means it is not there, and the request is a 503.
  DB_CONNECT_TIMEOUT_MS: 1000,
  // The slowest statement of the API (a page of 100 at 10 million rows) takes
  // under 5 ms: a second is a hung or starved server, not a slow query.
  DB_STATEMENT_TIMEOUT_MS: 1000,
  // Idle pooled connections close after this, so a quiet replica holds none of
  // Postgres's max_connections for long.
  DB_IDLE_TIMEOUT_MS: 30_000,
  // Every instance applies pending migrations as it starts, one at a time under
  // an advisory lock (a slow one goes on in the background): starting a new
  // version is the whole deploy. `npm run migrate` applies them ahead of it.
  MIGRATE_ON_START: true,
  // Every key of the app's, so it can share a Redis with others (and a test
  // with other tests).
  REDIS_KEY_PREFIX: 'desafio3:',
  // Redis answers in well under a millisecond; a second is a Redis that is gone.
  REDIS_COMMAND_TIMEOUT_MS: 1000,
  // How stale a cached user may be when a write bypassed this service (a write
  // through it drops the entry at once).
  USERS_CACHE_TTL_SECONDS: 30,
  // The largest body Fastify reads: far above any valid request of the API
  // (the largest, a cached value, is at most CACHE_MAX_VALUE_BYTES).
  BODY_LIMIT: 1024 * 1024,
  // The largest value POST /cache stores (its JSON; larger: 413), so one
  // client cannot fill Redis's maxmemory with a few writes.
  CACHE_MAX_VALUE_BYTES: 64 * 1024,
  // RATE_LIMIT_MAX counts per minute: the unit rate limits are read in.
  RATE_LIMIT_WINDOW_MS: 60_000,
  // How long a request waits for its count before the limiter fails open: a
  // fraction of a request's time, so a slow Redis never slows every request.
  RATE_LIMIT_STORE_TIMEOUT_MS: 250,
  // A client gets 10 s to send its headers and 30 s for the whole request, so a
  // slow client cannot hold a connection open (slowloris).
  HTTP_HEADERS_TIMEOUT_MS: 10_000,
  HTTP_REQUEST_TIMEOUT_MS: 30_000,
  // An idle keep-alive connection closes after 10 s: a client (or the load
  // balancer) reuses it between requests, and idle clients hold few sockets.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: 10_000,
  // A handler answers within 5 s (every dependency has a 1 s bound, and a read
  // may retry for 1 s), else a 503: no request hangs.
  HTTP_HANDLER_TIMEOUT_MS: 5_000,
  // After SIGTERM, requests in flight finish within 8 s (their handlers' 5 s
  // and the drain): inside `docker stop`'s 10 s, and the Kubernetes grace
  // period of 20 s less its 5 s preStop (deploy/kubernetes/base/deployment.yaml).
  SHUTDOWN_TIMEOUT_MS: 8000,
  // Load shedding (503 + Retry-After 2 s) while the event loop's mean delay over
  // the last 1 s sample exceeds 200 ms: a process that far behind answers
  // nothing in time. Utilisation is not used (0): a busy loop is not a late one.
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: 200,
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: 0,
  OVERLOAD_SAMPLE_INTERVAL_MS: 1000,
  OVERLOAD_RETRY_AFTER_SECONDS: 2,
}

export type Tuning = typeof TUNING

/** Variables earlier versions read that are gone: set, they would be silently ignored. */
const RETIRED: Record<string, string> = {
  DATABASE_URL: 'set POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD instead',
  REDIS_URL: 'set REDIS_HOST, REDIS_PORT and REDIS_PASSWORD instead',
  ...Object.fromEntries(Object.keys(TUNING).map((name) => [name, 'it is a constant now (docs/configuration.md)'])),
}

export type Config = Static<typeof ConfigSchema> & Tuning

export class ConfigError extends Error {
  override name = 'ConfigError'
}

interface AjvError {
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

function describe(error: AjvError, env: Record<string, string | undefined>): string {
  const variable = String(error.params.missingProperty ?? error.instancePath.replace(/^\//, ''))
  const allowed = error.params.allowedValues ? ` (one of ${(error.params.allowedValues as string[]).join(', ')})` : ''
  const got = env[variable] === undefined || SECRET.has(variable) ? '' : ` (got ${JSON.stringify(env[variable])})`
  return `${variable} ${error.message}${allowed}${got}`
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
}

/** Reads each X_FILE into X: the content without its trailing line breaks. Returns what went wrong. */
function readSecretFiles(data: Record<string, string | undefined>): string[] {
  const problems: string[] = []
  for (const name of FROM_FILE) {
    const path = data[`${name}_FILE`]
    if (path === undefined) continue
    if (data[name] !== undefined) {
      problems.push(`${name} and ${name}_FILE are both set: set one`)
      continue
    }
    let content: string
    try {
      content = readFileSync(path, 'utf8')
    } catch (err) {
      const code = String((err as NodeJS.ErrnoException).code)
      problems.push(`${name}_FILE names ${JSON.stringify(path)}, which cannot be read (${READ_ERRORS[code] ?? code})`)
      continue
    }
    const value = content.replace(/[\r\n]+$/, '')
    if (value === '') problems.push(`${name}_FILE names ${JSON.stringify(path)}, which is empty`)
    else data[name] = value
  }
  return problems
}

// RFC 6750's b64token: what a bearer token may hold.
const API_KEY = /^[A-Za-z0-9\-._~+/]{16,}=*$/

/** The keys of API_KEYS: separated by commas or line breaks (as in a file), blanks ignored. */
export function apiKeys(config: Pick<Config, 'API_KEYS'>): string[] {
  return config.API_KEYS.split(/[\s,]+/).filter((key) => key !== '')
}

function checkApiKeys(config: Config): string[] {
  const keys = apiKeys(config)
  const bad = keys.flatMap((key, i) => (API_KEY.test(key) ? [] : [i + 1]))
  if (bad.length === 0) return []
  // Which ones, by position: a key is never echoed.
  return [
    `API_KEYS: ${bad.length === 1 ? 'key' : 'keys'} ${bad.join(', ')} of ${keys.length} ` +
      `${bad.length === 1 ? 'is' : 'are'} not valid (each 16 or more of A-Z a-z 0-9 - . _ ~ + /, ` +
      'for example from `openssl rand -hex 32`)',
  ]
}

const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])

function isAddressOrRange(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true
  const [address, prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * TRUST_PROXY as Fastify's `trustProxy` takes it: false, true, the addresses
 * and ranges of the proxies whose X-Forwarded-For is believed, or a hop count:
 * the nearest n peers are believed, whoever they are. Fastify 5 no longer reads
 * a number itself (it trusts nobody then), so a count becomes the function
 * Express uses for one.
 */
export function trustProxy(
  config: Pick<Config, 'TRUST_PROXY'>,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  const value = config.TRUST_PROXY.trim()
  if (value === 'false' || value === '0') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  return value.split(',').map((entry) => entry.trim())
}

function checkTrustProxy(config: Config): string[] {
  const trusted = trustProxy(config)
  if (!Array.isArray(trusted)) return []
  const bad = trusted.filter((entry) => !isAddressOrRange(entry))
  if (bad.length === 0) return []
  return [
    `TRUST_PROXY must be false, true, a hop count or a comma-separated list of addresses and CIDR ranges ` +
      `(not ${bad.map((entry) => JSON.stringify(entry)).join(', ')})`,
  ]
}

function checkPorts(config: Config): string[] {
  return config.METRICS_PORT === config.PORT ? [`METRICS_PORT must differ from PORT (both ${config.PORT})`] : []
}

/**
 * Validates the environment once, at start. Empty values count as unset, so
 * `REDIS_PASSWORD=` in a compose file means "no password", not "". A variable
 * X of FROM_FILE can come from the file that X_FILE names instead.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  tuning: Partial<Tuning> = {},
): Config {
  const retired = Object.keys(RETIRED).filter((name) => env[name] !== undefined && env[name] !== '')
  if (retired.length > 0) {
    throw new ConfigError(
      `Invalid configuration: ${retired.map((name) => `${name} is no longer read: ${RETIRED[name]}`).join('; ')}`,
    )
  }
  const known: Record<string, string | undefined> = Object.fromEntries(
    Object.keys(ConfigSchema.properties)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  )
  const fileProblems = readSecretFiles(known)
  if (fileProblems.length > 0) throw new ConfigError(`Invalid configuration: ${fileProblems.join('; ')}`)
  let config: Config
  try {
    const settings = envSchema<Static<typeof ConfigSchema>>({
      schema: ConfigSchema,
      data: known,
      dotenv: false,
      env: false,
    })
    config = { ...settings, ...TUNING, ...tuning }
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors ?? []
    const details = errors.map((error) => describe(error, env)).join('; ')
    throw new ConfigError(`Invalid configuration: ${details || (err as Error).message}`)
  }
  const problems = [...checkApiKeys(config), ...checkTrustProxy(config), ...checkPorts(config)]
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  return config
}
