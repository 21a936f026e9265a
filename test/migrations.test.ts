import { readdirSync } from 'node:fs'
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate'
import pg from 'pg'
import t from 'tap'
import { MIGRATIONS_TABLE, migrate } from '../lib/migrations.ts'
import { build, freshDatabase, services, withClient } from './helpers/app.ts'
import { eventually } from './helpers/eventually.ts'

const quiet = { info() {}, warn() {}, error() {} }

/** The migrations in sql/, in the order they apply: their file names without `.sql`. */
const MIGRATIONS = readdirSync(new URL('../sql', import.meta.url))
  .filter((name) => name.endsWith('.sql'))
  .sort()
  .map((name) => name.replace(/\.sql$/, ''))

async function serverUrl() {
  return (await services()).databaseUrl
}

async function countRows(databaseUrl: string, table: string): Promise<number> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`)
    return rows[0].n
  })
}

t.test('a new database gets every migration of sql/, in order: the users table and the 10 seed users', async (t) => {
  const databaseUrl = await freshDatabase(await serverUrl())
  const applied = await migrate({ connectionString: databaseUrl }, quiet)
  t.same(applied, MIGRATIONS)
  t.match(MIGRATIONS.slice(0, 2), ['001_create-users', '002_seed-users'], 'the users table, then its sample users')
  t.equal(await countRows(databaseUrl, 'users'), 10)
  const columns = await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query(
      `SELECT column_name, data_type, character_maximum_length AS length, is_nullable
         FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position`,
    )
    return rows
  })
  t.same(columns, [
    { column_name: 'id', data_type: 'integer', length: null, is_nullable: 'NO' },
    { column_name: 'username', data_type: 'character varying', length: 50, is_nullable: 'NO' },
    { column_name: 'email', data_type: 'character varying', length: 100, is_nullable: 'NO' },
    { column_name: 'full_name', data_type: 'character varying', length: 100, is_nullable: 'YES' },
    { column_name: 'department', data_type: 'character varying', length: 50, is_nullable: 'YES' },
    { column_name: 'created_at', data_type: 'timestamp without time zone', length: null, is_nullable: 'YES' },
  ])
})

t.test('running the migrations twice in a row applies nothing the second time', async (t) => {
  const databaseUrl = await freshDatabase(await serverUrl())
  t.equal((await migrate({ connectionString: databaseUrl }, quiet)).length, MIGRATIONS.length)
  t.same(await migrate({ connectionString: databaseUrl }, quiet), [])
  t.equal(await countRows(databaseUrl, 'users'), 10)
  t.equal(await countRows(databaseUrl, MIGRATIONS_TABLE), MIGRATIONS.length)
})

t.test('two instances migrating at once: both succeed, each migration runs once', async (t) => {
  const databaseUrl = await freshDatabase(await serverUrl())
  const results = await Promise.all([
    migrate({ connectionString: databaseUrl }, quiet),
    migrate({ connectionString: databaseUrl }, quiet),
    migrate({ connectionString: databaseUrl }, quiet),
  ])
  t.same(
    results.map((applied) => applied.length).sort(),
    [0, 0, MIGRATIONS.length],
    'one applied them all, the others waited and found none',
  )
  t.equal(await countRows(databaseUrl, 'users'), 10)
  t.equal(await countRows(databaseUrl, MIGRATIONS_TABLE), MIGRATIONS.length)
})

t.test('a database created by the original init.sql is adopted as it is', async (t) => {
  const databaseUrl = await freshDatabase(await serverUrl())
  await withClient(databaseUrl, async (client) => {
    await client.query(`CREATE TABLE users (
      id SERIAL PRIMARY KEY, username VARCHAR(50) NOT NULL UNIQUE, email VARCHAR(100) NOT NULL UNIQUE,
      full_name VARCHAR(100), department VARCHAR(50), created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`)
    await client.query(
      `INSERT INTO users (username, email) VALUES ('jsilva', 'joao.silva@empresa.com'), ('extra', 'extra@x.com')`,
    )
  })
  t.equal((await migrate({ connectionString: databaseUrl }, quiet)).length, MIGRATIONS.length)
  t.equal(await countRows(databaseUrl, 'users'), 11, 'existing rows kept, missing seed users added')
})

t.test('an unreachable database is an error, not a hang', async (t) => {
  const started = Date.now()
  await t.rejects(
    migrate({ connectionString: 'postgres://postgres:x@127.0.0.1:1/none', connectionTimeoutMillis: 1000 }, quiet),
  )
  t.ok(Date.now() - started < 3000)
})

t.test('start-up does not wait for a migration held up by another instance', async (t) => {
  const databaseUrl = await freshDatabase(await serverUrl())
  // Another instance holds the migration lock.
  const other = new pg.Client({ connectionString: databaseUrl })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('SELECT pg_advisory_lock($1)', [PG_MIGRATE_LOCK_ID])

  // A start that waited for the lock would not be ready before the unlock below
  // (build would fail on Fastify's 10 s plugin timeout instead).
  const started = Date.now()
  const app = await build(t, { DATABASE_URL: databaseUrl })
  t.comment(`ready after ${Date.now() - started} ms, the lock still held`)
  t.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 503, 'users wait for the schema')
  t.match((await app.inject({ method: 'GET', url: '/health' })).json().services.db, {
    status: 'error',
    error: 'schema migrations not applied yet',
  })

  await other.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATE_LOCK_ID])
  await eventually(async () => {
    const res = await app.inject({ method: 'GET', url: '/users' })
    if (res.statusCode !== 200) throw new Error(`still ${res.statusCode}`)
  }, 10_000)
  t.equal((await app.inject({ method: 'GET', url: '/users' })).json().total, 10)
})
