import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type MigrationBuilder, PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate'
import { getActions } from 'node-pg-migrate/sqlMigration'
import pg, { type ClientConfig } from 'pg'
import { packageRoot } from './package-info.ts'

const MIGRATIONS_DIR = join(packageRoot, 'sql')
export const MIGRATIONS_TABLE = 'pgmigrations'
const LOCK_POLL_MS = 200

export interface MigrationLogger {
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

type MigrationAction = (pgm: MigrationBuilder) => Promise<void> | void
// getActions comes from node-pg-migrate's legacy build, which declares a copy of MigrationBuilder of its own.
type SqlActions = { up?: MigrationAction | false; down?: MigrationAction | false }

/** A migration file with this line runs outside a transaction, one statement at a time. */
const NO_TRANSACTION = /^-- no transaction$/m

/**
 * Statements such as CREATE INDEX CONCURRENTLY cannot run in a transaction,
 * nor in a query string of several statements (Postgres runs those as one
 * transaction), which is how node-pg-migrate sends a SQL file. Such a file is
 * sent statement by statement: each ends with a `;` at the end of a line.
 */
function statementByStatement(action: MigrationAction): MigrationAction {
  return (pgm) => {
    pgm.noTransaction()
    const sql = (text: string) => {
      for (const statement of text.split(/;\s*$/m)) {
        if (statement.replace(/--.*$/gm, '').trim()) pgm.sql(statement)
      }
    }
    return action(Object.create(pgm, { sql: { value: sql } }))
  }
}

/** node-pg-migrate's own reading of a SQL file (its `-- Up Migration` and `-- Down Migration`), plus NO_TRANSACTION. */
async function loadSqlMigrations(filePaths: string[]) {
  return Promise.all(
    filePaths.map(async (filePath) => {
      const text = await readFile(filePath, 'utf8')
      const { up, down } = getActions(text) as unknown as SqlActions
      const outside = NO_TRANSACTION.test(text)
      const wrap = (action: MigrationAction | false | undefined) =>
        outside && action ? statementByStatement(action) : action
      return { id: filePath, filePaths: [filePath], actions: { up: wrap(up), down: wrap(down) } }
    }),
  )
}

/**
 * Waits for node-pg-migrate's advisory lock by trying it again and again rather
 * than in one blocked `pg_advisory_lock`: a session blocked in a statement
 * holds a snapshot, which a CREATE INDEX CONCURRENTLY run by the lock's holder
 * would wait for, while that session waits for the lock: a deadlock, which
 * Postgres may resolve by cancelling the index build.
 */
async function lock(client: pg.Client) {
  for (;;) {
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS locked', [String(PG_MIGRATE_LOCK_ID)])
    if (rows[0].locked) return
    await sleep(LOCK_POLL_MS)
  }
}

/** Which pending migrations to apply, for the tests of one of them: all of them by default. */
interface MigrateOptions {
  /** The first `count` pending migrations only. */
  count?: number
  /** Only the migration of this name (its file name without `.sql`). */
  only?: string
}

/**
 * Applies the pending migrations in sql/, in one transaction, except those
 * marked NO_TRANSACTION: the transaction commits before each of them and a new
 * one starts after it, so a failure there leaves the migrations before it
 * applied and it pending, to be run again from its start. Several instances
 * may call it at once: the advisory lock makes the others wait, then find
 * nothing left to run. Returns the names of the migrations it applied.
 */
export async function migrate(
  connection: ClientConfig,
  logger: MigrationLogger,
  { count, only }: MigrateOptions = {},
): Promise<string[]> {
  const client = new pg.Client(connection)
  // A connection lost while waiting for the lock: the next query fails with it.
  client.on('error', () => {})
  await client.connect()
  try {
    await lock(client)
    const applied = await runner({
      dbClient: client,
      noLock: true,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      count,
      file: only,
      migrationsTable: MIGRATIONS_TABLE,
      singleTransaction: true,
      checkOrder: true,
      migrationLoaderStrategies: [{ extensions: ['.sql'], loader: loadSqlMigrations }],
      logger,
    })
    return applied.map((migration) => migration.name)
  } finally {
    // Ending the session releases the lock.
    await client.end()
  }
}
