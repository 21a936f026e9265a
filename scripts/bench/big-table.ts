// The users table at scale for `npm run bench -- --rows N`: a database of the
// bench's own, bench_rows_<N>, migrated by the service's migrations, then the
// 10 sample users and N - 10 more spread over five departments, built once
// (INSERT ... SELECT FROM generate_series, then VACUUM ANALYZE) and used again
// by every later run on the same server.
import pg from 'pg'
import { migrate } from '../../lib/migrations.ts'
import { sql } from './services.ts'

export const DEPARTMENTS = ['Desenvolvimento', 'Design', 'DevOps', 'QA', 'Produto']
const CHUNK = 1_000_000
const quiet = { info() {}, warn() {}, error() {} }
// Set once the table is complete: a database without it is built again.
const builtMark = (rows: number) => `desafio3 bench: ${rows} users`

export async function bigTable(serverUrl: string, rows: number, log: (message: string) => void): Promise<string> {
  const database = `bench_rows_${rows}`
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  const databaseUrl = url.toString()

  const server = new pg.Client({ connectionString: serverUrl })
  await server.connect()
  try {
    const { rows: found } = await server.query(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`,
      [database],
    )
    if (found[0]?.mark === builtMark(rows)) {
      log(`${database}: ${rows} users, built by an earlier run`)
      return databaseUrl
    }
    await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await server.query(`CREATE DATABASE ${database}`)
  } finally {
    await server.end()
  }

  const started = Date.now()
  await migrate({ connectionString: databaseUrl }, quiet)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    // The 10 sample users are ids 1 to 10.
    for (let from = 11; from <= rows; from += CHUNK) {
      await client.query(
        `INSERT INTO users (username, email, full_name, department)
         SELECT 'user' || i, 'user' || i || '@empresa.com', 'User ' || i, ($3::text[])[1 + i % 5]
         FROM generate_series($1::int, $2::int) AS i`,
        [from, Math.min(from + CHUNK - 1, rows), DEPARTMENTS],
      )
      log(`${database}: ${Math.min(from + CHUNK - 1, rows)} users (${((Date.now() - started) / 1000).toFixed(0)} s)`)
    }
    // Not in parallel: parallel vacuum's shared memory outgrows the container's /dev/shm (64 MB).
    await client.query('VACUUM (ANALYZE, PARALLEL 0) users')
  } finally {
    await client.end()
  }
  await sql(serverUrl, `COMMENT ON DATABASE ${database} IS '${builtMark(rows)}'`)
  log(`${database}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  return databaseUrl
}
