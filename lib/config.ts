import { type Static, Type } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const Port = (defaultPort: number) => Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort })
const Milliseconds = (defaultMs: number) => Type.Integer({ minimum: 1, maximum: 600_000, default: defaultMs })

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
  // Requests per window per client address; 0 turns rate limiting off.
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 300 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, maximum: 24 * 3600 * 1000, default: 60_000 }),
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
  const got = env[variable] === undefined ? '' : ` (got ${JSON.stringify(env[variable])})`
  return `${variable} ${error.message}${allowed}${got}`
}

/**
 * Validates the environment once, at start. Empty values count as unset, so
 * `REDIS_PASSWORD=` in a compose file means "no password", not "".
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.properties)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  )
  try {
    return envSchema<Config>({ schema: ConfigSchema, data: known, dotenv: false, env: false })
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors ?? []
    const details = errors.map((error) => describe(error, env)).join('; ')
    throw new ConfigError(`Invalid configuration: ${details || (err as Error).message}`)
  }
}
