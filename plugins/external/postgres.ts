import fastifyPostgres from '@fastify/postgres'
import fp from 'fastify-plugin'
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { Config } from '../../lib/config.ts'
import { postgresPoolOptions } from '../../lib/connections.ts'
import { DatabaseUnavailableError } from '../../lib/errors.ts'
import { withTimeout } from '../../lib/timeout.ts'

interface Database {
  /** Runs one statement on the pool; failures to reach Postgres become 503 errors. */
  query<Row extends QueryResultRow>(statement: QueryConfig): Promise<QueryResult<Row>>
  /** Resolves when Postgres answers `SELECT 1` within the timeout. */
  ping(timeoutMs: number): Promise<void>
  /** The pool's connections now: open (busy or idle), idle, and queries waiting for one. */
  poolStats(): { total: number; idle: number; waiting: number }
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

// SQLSTATE classes that mean Postgres cannot serve right now, not that the
// request was wrong: connection (08), resources (53), operator intervention
// such as shutdown or statement timeout (57), system (58), auth (28), missing
// database (3D), and a table not created yet because migrations are pending.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58|28|3D)|^42P01$/

function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATE.test(code)
  // No SQLSTATE: a socket error (ECONNREFUSED, ENOTFOUND, ...) or one of pg's own
  // (connection timeout, query timeout, connection terminated).
  return true
}

export default fp(
  async function postgresPlugin(fastify, { config }: { config: Config }) {
    const log = fastify.log.child({ plugin: 'postgres' })

    // onClose hooks run last-registered first: this one, registered before
    // @fastify/postgres, runs after it has ended the pool.
    fastify.addHook('onClose', async () => {
      log.info('database pool closed')
    })
    await fastify.register(fastifyPostgres, postgresPoolOptions(config))
    const pool = fastify.pg.pool

    // An idle client whose server went away emits on the pool; without a
    // listener that would crash the process.
    pool.on('error', (err) => log.warn({ err }, 'idle database connection lost'))

    const db: Database = {
      async query<Row extends QueryResultRow>(statement: QueryConfig) {
        try {
          return await pool.query<Row>(statement)
        } catch (err) {
          if (!isUnavailable(err)) throw err
          // The error handler logs the 503 with its cause, under the request's id.
          throw new DatabaseUnavailableError({ cause: err })
        }
      },
      async ping(timeoutMs: number) {
        await withTimeout(pool.query('SELECT 1'), timeoutMs, 'database ping')
      },
      poolStats() {
        return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
      },
    }
    fastify.decorate('db', db)
  },
  { name: 'postgres', fastify: '5.x' },
)
