import type { RedisOptions } from 'ioredis'
import type { ClientConfig, PoolConfig } from 'pg'
import type { Config } from './config.ts'

/** How to reach Postgres: the POSTGRES_* settings. */
export function postgresConnection(config: Config): ClientConfig {
  return {
    host: config.POSTGRES_HOST,
    port: config.POSTGRES_PORT,
    database: config.POSTGRES_DB,
    user: config.POSTGRES_USER,
    password: config.POSTGRES_PASSWORD,
    connectionTimeoutMillis: config.DB_CONNECT_TIMEOUT_MS,
    application_name: 'desafio3-web',
  }
}

/** The request pool: its size and every bound on waiting for Postgres. */
export function postgresPoolOptions(config: Config): PoolConfig {
  return {
    ...postgresConnection(config),
    max: config.DB_POOL_MAX,
    idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
    // Client-side bound too: a server that hangs (paused, partitioned) never
    // reports its own statement timeout.
    query_timeout: config.DB_STATEMENT_TIMEOUT_MS + 250,
    keepAlive: true,
    // The app's statements are prepared, and planned once per connection for
    // any values: a plan per execution cost more than a page of users (for
    // `id > $1` the planner looks up the end of the id index, stepping over
    // entries of deleted rows). No JIT: a generic plan's cost estimate can pass
    // jit_above_cost, and compiling then took 14 ms of a 0.2 ms query. The tests
    // of the list plans check the generic plans (test/users-list.test.ts).
    options: '-c plan_cache_mode=force_generic_plan -c jit=off',
  }
}

const MAX_RECONNECT_DELAY_MS = 2000

/** How to reach Redis (the REDIS_* settings), and how the client behaves when it cannot. */
export function redisClientOptions(config: Config): RedisOptions {
  return {
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    password: config.REDIS_PASSWORD,
    keyPrefix: config.REDIS_KEY_PREFIX,
    connectionName: 'desafio3-web',
    // Fail fast while disconnected instead of queueing requests in memory.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // No enableAutoPipelining: it sends one batch at a time, so while Redis
    // hangs each batch waits for the previous one to time out, and a request
    // could wait twice REDIS_COMMAND_TIMEOUT_MS.
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    // Reconnect forever, with a bounded delay, so the service heals by itself.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  }
}
