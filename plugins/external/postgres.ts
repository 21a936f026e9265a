import fastifyPostgres from '@fastify/postgres'
import fp from 'fastify-plugin'
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { Config } from '../../lib/config.ts'
import { postgresPoolOptions } from '../../lib/connections.ts'
import { type ConstraintErrors, isConnectionLost, statementError } from '../../lib/postgres-errors.ts'
import { withTimeout } from '../../lib/timeout.ts'

interface Database {
  /**
   * Runs one statement on the pool. Postgres unavailable: a 503 error; an
   * integrity error (a unique key taken, a missing or still referenced row, a
   * value the table refuses): a 4xx, the error `named` gives for its constraint
   * or a generic one (lib/postgres-errors.ts).
   */
  query<Row extends QueryResultRow>(statement: QueryConfig, named?: ConstraintErrors): Promise<QueryResult<Row>>
  /**
   * Runs a statement that only reads, as `query`; when the connection it used
   * was lost (Postgres restarting, or a pooled connection the server closed
   * while idle), it runs again on a new connection, for up to READ_RETRY_MS.
   * Writes go through `query` and are never sent twice: the client decides.
   */
  read<Row extends QueryResultRow>(statement: QueryConfig): Promise<QueryResult<Row>>
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

// How long a read keeps trying to reach Postgres after losing its connection:
// a restart (`pg_ctl restart -m fast`) refuses connections for a fraction of
// a second; a Postgres that stays down is a 503 after about this long.
const READ_RETRY_MS = 1000
const FIRST_RETRY_DELAY_MS = 25
const MAX_RETRY_DELAY_MS = 250

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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
      async query<Row extends QueryResultRow>(statement: QueryConfig, named?: ConstraintErrors) {
        // The error handler logs a 5xx with its cause, under the request's id.
        return pool.query<Row>(statement).catch((err) => {
          throw statementError(err, statement.text, named)
        })
      },
      async read<Row extends QueryResultRow>(statement: QueryConfig) {
        const deadline = Date.now() + READ_RETRY_MS
        for (let delay = FIRST_RETRY_DELAY_MS; ; delay = Math.min(2 * delay, MAX_RETRY_DELAY_MS)) {
          try {
            // pg drops a connection that failed: the next attempt gets a new one.
            return await pool.query<Row>(statement)
          } catch (err) {
            if (!isConnectionLost(err) || Date.now() + delay >= deadline) throw statementError(err, statement.text)
            log.debug({ err, retryInMs: delay }, 'database connection lost during a read, retrying')
            await sleep(delay)
          }
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
