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

// SQLSTATE classes that mean Postgres cannot serve right now, not that the
// request was wrong: connection (08), resources (53), operator intervention
// such as shutdown or statement timeout (57), system (58), auth (28), missing
// database (3D), and a table not created yet because migrations are pending.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58|28|3D)|^42P01$/

// The connection broke or could not be made, so the statement did not run (or
// ran as a read): Postgres is restarting or shutting down (57P01-57P03), the
// connection failed (08), or the socket did. Not a statement or query timeout:
// a server too slow for one attempt gets no second.
const CONNECTION_LOST_SQLSTATE = /^(08|57P0[123])/
const CONNECTION_LOST_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])
// pg's own errors carry no code, only these messages.
const CONNECTION_LOST_MESSAGE = /^Connection terminated|not queryable|^timeout exceeded when trying to connect/

function isConnectionLost(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown }
  if (typeof code === 'string') return CONNECTION_LOST_SQLSTATE.test(code) || CONNECTION_LOST_ERRNO.has(code)
  return typeof message === 'string' && CONNECTION_LOST_MESSAGE.test(message)
}

// How long a read keeps trying to reach Postgres after losing its connection:
// a restart (`pg_ctl restart -m fast`) refuses connections for a fraction of
// a second; a Postgres that stays down is a 503 after about this long.
const READ_RETRY_MS = 1000
const FIRST_RETRY_DELAY_MS = 25
const MAX_RETRY_DELAY_MS = 250

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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

    function unavailable(err: unknown): never {
      if (!isUnavailable(err)) throw err
      // The error handler logs the 503 with its cause, under the request's id.
      throw new DatabaseUnavailableError({ cause: err })
    }

    const db: Database = {
      async query<Row extends QueryResultRow>(statement: QueryConfig) {
        return pool.query<Row>(statement).catch(unavailable)
      },
      async read<Row extends QueryResultRow>(statement: QueryConfig) {
        const deadline = Date.now() + READ_RETRY_MS
        for (let delay = FIRST_RETRY_DELAY_MS; ; delay = Math.min(2 * delay, MAX_RETRY_DELAY_MS)) {
          try {
            // pg drops a connection that failed: the next attempt gets a new one.
            return await pool.query<Row>(statement)
          } catch (err) {
            if (!isConnectionLost(err) || Date.now() + delay >= deadline) unavailable(err)
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
