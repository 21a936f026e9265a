import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const Port = (defaultPort: number) => Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort })
const Milliseconds = (defaultMs: number) => Type.Integer({ minimum: 1, maximum: 600_000, default: defaultMs })

/** `X_FILE`: the file X is read from, as the official postgres image reads POSTGRES_PASSWORD_FILE. */
const SecretFile = (variable: string) =>
  Type.String({
    default: '',
    description: `A file whose content (trailing line breaks removed) is ${variable}; not together with ${variable}`,
  })

/** The variables that may be read from a file named by `<name>_FILE`. */
const FROM_FILE = ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'API_KEYS'] as const

/** Never echoed in an error message. */
const SECRET = new Set(['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'API_KEYS', 'DATABASE_URL', 'REDIS_URL'])

export const ConfigSchema = Type.Object({
  PORT: Port(5000),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Unsafe<(typeof LOG_LEVELS)[number]>({ type: 'string', enum: [...LOG_LEVELS], default: 'info' }),

  POSTGRES_HOST: Type.String({ minLength: 1, default: 'localhost' }),
  POSTGRES_PORT: Port(5432),
  POSTGRES_DB: Type.String({ minLength: 1, default: 'desafio3' }),
  POSTGRES_USER: Type.String({ minLength: 1, default: 'postgres' }),
  POSTGRES_PASSWORD: Type.Optional(Type.String()),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  DB_CONNECT_TIMEOUT_MS: Milliseconds(1000),
  DB_STATEMENT_TIMEOUT_MS: Milliseconds(1000),
  DB_IDLE_TIMEOUT_MS: Milliseconds(30_000),
  MIGRATE_ON_START: Type.Boolean({ default: true }),

  REDIS_HOST: Type.String({ minLength: 1, default: 'localhost' }),
  REDIS_PORT: Port(6379),
  REDIS_PASSWORD: Type.Optional(Type.String()),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, maxLength: 64, default: 'desafio3:' }),
  REDIS_COMMAND_TIMEOUT_MS: Milliseconds(1000),
  USERS_CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),

  BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 100 * 1024 * 1024, default: 1024 * 1024 }),
  CACHE_MAX_VALUE_BYTES: Type.Integer({
    minimum: 1,
    maximum: 100 * 1024 * 1024,
    default: 64 * 1024,
    description: 'Largest value POST /cache stores, in bytes of its JSON (larger: 413)',
  }),
  // Requests per window per client address; 0 turns rate limiting off.
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 300 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, maximum: 24 * 3600 * 1000, default: 60_000 }),
  // How long a request waits for its count before the limiter fails open.
  RATE_LIMIT_STORE_TIMEOUT_MS: Milliseconds(250),
  HTTP_HEADERS_TIMEOUT_MS: Milliseconds(10_000),
  HTTP_REQUEST_TIMEOUT_MS: Milliseconds(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Milliseconds(10_000),
  HTTP_HANDLER_TIMEOUT_MS: Milliseconds(5_000),
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(\\*|(https?://[^,\\s]+)(,https?://[^,\\s]+)*)?$',
    description: 'Comma-separated origins allowed by CORS, or * for any; empty disables CORS',
  }),
  SHUTDOWN_TIMEOUT_MS: Milliseconds(8000),

  POSTGRES_PASSWORD_FILE: SecretFile('POSTGRES_PASSWORD'),
  REDIS_PASSWORD_FILE: SecretFile('REDIS_PASSWORD'),
  API_KEYS: Type.String({
    default: '',
    description:
      'API keys that may write (POST, PATCH, DELETE), separated by commas or line breaks; each 16 or more of ' +
      'A-Z a-z 0-9 - . _ ~ + /. Writes then need `Authorization: Bearer <key>`. Empty: writes are open to anyone',
  }),
  API_KEYS_FILE: SecretFile('API_KEYS'),
  METRICS_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 0,
    description:
      'Port of a second listener (on HOST) that serves only /metrics, which the public port then answers with 404; ' +
      '0: /metrics is served on PORT',
  }),
  TRUST_PROXY: Type.String({
    default: 'false',
    description:
      'Which peers may set the client address through X-Forwarded-For (Fastify trustProxy): false, true (any), ' +
      'a hop count, or a comma-separated list of addresses and CIDR ranges (also loopback, linklocal, uniquelocal)',
  }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 200,
    description:
      'Shed load (503 + Retry-After) while the mean event-loop delay of the last sample exceeds this; 0 turns it off',
  }),
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    description:
      'Shed load while the event loop was busy more than this fraction (0 to 1) of the last sample; 0 turns it off',
  }),
  OVERLOAD_SAMPLE_INTERVAL_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 1000,
    description: 'How often the event-loop delay and utilisation are sampled for load shedding',
  }),
  OVERLOAD_RETRY_AFTER_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 2,
    description: 'The Retry-After of a shed request, in seconds',
  }),
})

export type Config = Static<typeof ConfigSchema>

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
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known: Record<string, string | undefined> = Object.fromEntries(
    Object.keys(ConfigSchema.properties)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  )
  const fileProblems = readSecretFiles(known)
  if (fileProblems.length > 0) throw new ConfigError(`Invalid configuration: ${fileProblems.join('; ')}`)
  let config: Config
  try {
    config = envSchema<Config>({ schema: ConfigSchema, data: known, dotenv: false, env: false })
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors ?? []
    const details = errors.map((error) => describe(error, env)).join('; ')
    throw new ConfigError(`Invalid configuration: ${details || (err as Error).message}`)
  }
  const problems = [...checkApiKeys(config), ...checkTrustProxy(config), ...checkPorts(config)]
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  return config
}
