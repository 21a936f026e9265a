import type { RedisOptions } from 'ioredis'
import type { ClientConfig } from 'pg'
import type { Config } from './config.ts'

/** How to reach Postgres: DATABASE_URL when set, else the POSTGRES_* variables. */
export function postgresConnection(config: Config): ClientConfig {
  const connection: ClientConfig = config.DATABASE_URL
    ? { connectionString: config.DATABASE_URL }
    : {
        host: config.POSTGRES_HOST,
        port: config.POSTGRES_PORT,
        database: config.POSTGRES_DB,
        user: config.POSTGRES_USER,
        password: config.POSTGRES_PASSWORD,
      }
  return { ...connection, connectionTimeoutMillis: config.DB_CONNECT_TIMEOUT_MS, application_name: 'desafio3-web' }
}

/** How to reach Redis: REDIS_URL when set, else the REDIS_* variables. */
export function redisConnection(config: Config): { url?: string; options: RedisOptions } {
  if (config.REDIS_URL) return { url: config.REDIS_URL, options: {} }
  return { options: { host: config.REDIS_HOST, port: config.REDIS_PORT, password: config.REDIS_PASSWORD } }
}
