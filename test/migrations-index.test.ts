import { readdirSync } from 'node:fs'
import pg from 'pg'
import t, { type Test } from 'tap'
import { MIGRATIONS_TABLE, migrate } from '../lib/migrations.ts'
import { freshDatabase, services, withClient } from './helpers/app.ts'
import { eventually } from './helpers/eventually.ts'

// sql/005 builds an index on a table that may be big and live: CONCURRENTLY,
// outside a transaction. These tests take a migrated database back to before
// it, hold the build up at a known point, and look at what writers and a
// failed build see.

const quiet = { info() {}, warn() {}, error() {} }
const INDEX = 'users_department_id_idx'
const MIGRATION = '005_users-department-index'
/** The index migration alone (later ones, if any, stay pending). */
const INDEX_ONLY = { only: MIGRATION }

/** A database with the migrations before the index one, and `rows` more users. */
async function beforeIndexMigration(rows: number): Promise<string> {
  const databaseUrl = await freshDatabase((await services()).databaseUrl)
  const before = readdirSync(new URL('../sql', import.meta.url)).filter((name) => name < MIGRATION).length
  await migrate({ connectionString: databaseUrl }, quiet, { count: before })
  await withClient(databaseUrl, async (client) => {
    await client.query(
      `INSERT INTO users (username, email, department)
       SELECT 'bulk' || i, 'bulk' || i || '@example.com', (ARRAY['A', 'B', 'C', 'D', 'E'])[1 + i % 5]
       FROM generate_series(1, $1::int) AS i`,
      [rows],
    )
  })
  return databaseUrl
}

/**
 * A session that holds a writer's lock on users (ROW EXCLUSIVE, what every
 * INSERT, UPDATE and DELETE takes) in an open transaction: CREATE INDEX
 * CONCURRENTLY waits for it before it builds. It writes no row: a user written
 * would hold a counter slot (sql/004) until the commit, and the test's writes
 * landing in that slot (one in 16, by transaction id) would wait for it too.
 */
async function openWrite(t: Test, databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  await client.query('BEGIN')
  await client.query('LOCK TABLE users IN ROW EXCLUSIVE MODE')
  return { commit: () => client.query('COMMIT'), rollback: () => client.query('ROLLBACK') }
}

/** The index build in progress in this database (pg_stat_progress_create_index), once there is one. */
async function buildInProgress(databaseUrl: string) {
  let progress: { pid: number; phase: string } | undefined
  await eventually(async () => {
    progress = await withClient(databaseUrl, async (client) => {
      const { rows } = await client.query(
        `SELECT pid, phase FROM pg_stat_progress_create_index WHERE datname = current_database()`,
      )
      return rows[0]
    })
    if (!progress) throw new Error('no index build yet')
  }, 10_000)
  return progress as { pid: number; phase: string }
}

async function indexState(databaseUrl: string) {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
      [INDEX],
    )
    const recorded = await client.query(`SELECT 1 FROM ${MIGRATIONS_TABLE} WHERE name = $1`, [MIGRATION])
    return { indexes: rows.map((row) => (row.valid ? 'valid' : 'invalid')), recorded: recorded.rowCount === 1 }
  })
}

t.test('writes go on while the department index builds on a big table', async (t) => {
  const databaseUrl = await beforeIndexMigration(100_000)
  const holder = await openWrite(t, databaseUrl)
  const migrating = migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY)
  const { phase } = await buildInProgress(databaseUrl)
  t.comment(`the build is at: ${phase}`)

  // A plain CREATE INDEX would queue behind the open write, and every write
  // after it behind the CREATE INDEX: these would wait until the commit below.
  const writer = new pg.Client({ connectionString: databaseUrl, statement_timeout: 3000 })
  await writer.connect()
  t.teardown(() => writer.end())
  const started = Date.now()
  const { rows } = await writer.query(
    `INSERT INTO users (username, email, department) VALUES ('during', 'during@example.com', 'A') RETURNING id`,
  )
  await writer.query(`UPDATE users SET department = 'B' WHERE id = $1`, [rows[0].id])
  await writer.query('UPDATE users SET department = NULL WHERE id = 2')
  await writer.query('DELETE FROM users WHERE id = $1', [rows[0].id])
  t.ok(Date.now() - started < 3000, `insert, updates and delete done in ${Date.now() - started} ms`)
  t.ok(await buildInProgress(databaseUrl), 'while the build is still in progress')

  // Now writers all along the build itself, on the 100,000 rows.
  let writes = 0
  let slowestMs = 0
  let building = true
  const writing = (async () => {
    while (building) {
      const began = Date.now()
      await writer.query(`UPDATE users SET department = 'C' WHERE id = $1`, [1 + (writes % 1000)])
      slowestMs = Math.max(slowestMs, Date.now() - began)
      writes++
    }
  })()
  await holder.commit()
  t.same(await migrating, [MIGRATION], 'the index migration applied')
  building = false
  await writing
  t.comment(`${writes} updates while the index built, the slowest ${slowestMs} ms`)
  t.ok(writes > 0, 'writes went on during the build')
  t.same(await indexState(databaseUrl), { indexes: ['valid'], recorded: true })
})

t.test('an index build that failed midway is built again, cleanly, at the next start', async (t) => {
  const databaseUrl = await beforeIndexMigration(10_000)
  const holder = await openWrite(t, databaseUrl)
  const migrating = migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY)
  const failed = t.rejects(migrating, /cancel/, 'the migration fails')
  const { pid } = await buildInProgress(databaseUrl)
  // The build is interrupted (a deploy, a crash, an operator): here, cancelled.
  await withClient(databaseUrl, (client) => client.query('SELECT pg_cancel_backend($1)', [pid]))
  await failed
  await holder.rollback()
  t.same(await indexState(databaseUrl), { indexes: ['invalid'], recorded: false }, 'an invalid index is left behind')

  t.same(
    await migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY),
    [MIGRATION],
    'the next start runs it again',
  )
  t.same(await indexState(databaseUrl), { indexes: ['valid'], recorded: true }, 'one index, valid')
  t.same(await migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY), [], 'and then it is applied')
})

t.test('an instance waiting for the migration lock does not deadlock the index build', async (t) => {
  const databaseUrl = await beforeIndexMigration(10_000)
  const holder = await openWrite(t, databaseUrl)
  const first = migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY)
  await buildInProgress(databaseUrl)
  // A second instance starts meanwhile and waits for the lock. Blocked in
  // pg_advisory_lock it would hold a snapshot the build must wait for, while
  // it waits for the build's lock: Postgres would cancel one of them.
  const second = migrate({ connectionString: databaseUrl }, quiet, INDEX_ONLY)
  await new Promise((resolve) => setTimeout(resolve, 1500)) // past deadlock_timeout (1 s)
  await holder.commit()
  t.same(await Promise.all([first, second]), [[MIGRATION], []], 'the first built the index, the second found it')
  t.same(await indexState(databaseUrl), { indexes: ['valid'], recorded: true })
})
