import { deepStrictEqual } from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import pg from 'pg'
import t from 'tap'
import { build, services, withClient } from './helpers/app.ts'
import { createUser, uniqueUser } from './helpers/users.ts'

// `total` comes from counts the triggers of sql/004 keep, never from count(*):
// after any mix of writes, concurrent ones included, it must equal count(*).

// Many requests from one client: no rate limit.
const app = await build(t, { RATE_LIMIT_MAX: '0' })
const { databaseUrl } = await services()

/** count(*) of every user and of each department, and what GET /users says for each. */
async function totals(departments: string[]) {
  const counted = await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query(
      `SELECT (SELECT count(*)::int FROM users) AS all,
              (SELECT json_object_agg(d, (SELECT count(*) FROM users WHERE department = d))
                 FROM unnest($1::text[]) AS d) AS departments`,
      [departments],
    )
    return rows[0]
  })
  const total = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/users?${query}` })
    if (res.statusCode !== 200) throw new Error(`GET /users?${query}: ${res.statusCode} ${res.body}`)
    return res.json().total
  }
  const listed = {
    all: await total('limit=1'),
    departments: Object.fromEntries(
      await Promise.all(departments.map(async (d) => [d, await total(`department=${encodeURIComponent(d)}`)])),
    ),
  }
  return { counted, listed }
}

type Write =
  | { op: 'create'; department: number | null }
  | { op: 'move'; user: number; department: number | null }
  | { op: 'rename'; user: number }
  | { op: 'delete'; user: number }

const department = fc.option(fc.integer({ min: 0, max: 3 }), { nil: null })
const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), department }),
  fc.record({ op: fc.constant('move' as const), user: fc.nat(), department }),
  fc.record({ op: fc.constant('rename' as const), user: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), user: fc.nat() }),
)

t.test('after random concurrent creates, department changes and deletes, total equals count(*)', async (t) => {
  let runs = 0
  let writes = 0
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(write, { minLength: 1, maxLength: 20 }), { maxLength: 6 }), async (batches) => {
      const departments = Array.from({ length: 4 }, (_, i) => `Count ${i} ${randomUUID().slice(0, 8)}`)
      const name = (d: number | null) => (d === null ? null : departments[d])
      const ids: number[] = []
      for (const d of [0, 1, 2, null]) ids.push((await createUser(app, { department: name(d) })).id)
      // Each batch's writes run at once, on the pool's connections: concurrent transactions.
      for (const batch of batches) {
        const pick = (n: number) => ids[n % ids.length]
        const results = await Promise.all(
          batch.map((w) => {
            if (w.op === 'create')
              return app.inject({
                method: 'POST',
                url: '/users',
                payload: { ...uniqueUser(), department: name(w.department) },
              })
            if (w.op === 'move')
              return app.inject({
                method: 'PATCH',
                url: `/users/${pick(w.user)}`,
                payload: { department: name(w.department) },
              })
            if (w.op === 'rename')
              return app.inject({
                method: 'PATCH',
                url: `/users/${pick(w.user)}`,
                payload: { full_name: randomUUID() },
              })
            return app.inject({ method: 'DELETE', url: `/users/${pick(w.user)}` })
          }),
        )
        for (const res of results) {
          if (![200, 201, 204, 404].includes(res.statusCode)) throw new Error(`${res.statusCode} ${res.body}`)
          if (res.statusCode === 201) ids.push(res.json().id)
        }
      }
      const { counted, listed } = await totals(departments)
      deepStrictEqual(listed, counted)
      runs++
      writes += batches.flat().length
    }),
    { numRuns: 40 },
  )
  t.pass(`${runs} runs, ${writes} writes in concurrent batches: every total equal to count(*)`)
})

t.test('bulk statements, transactions that roll back and TRUNCATE keep the counts exact too', async (t) => {
  const departments = ['Bulk A', 'Bulk B', 'Bulk C']
  // Sessions of their own, writing at once in transactions of several statements.
  const sessions = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl })
      await client.connect()
      return client
    }),
  )
  t.teardown(() => Promise.all(sessions.map((client) => client.end())))
  // Each session changes users of its own (no two wait for each other on a
  // user's row); they share the counter rows, which must never deadlock.
  const everyDepartment = [...departments, null]
  await Promise.all(
    sessions.map(async (client, i) => {
      for (let round = 0; round < 5; round++) {
        const mine = `bulk${i}-%`
        await client.query('BEGIN')
        await client.query(
          `INSERT INTO users (username, email, department)
           SELECT 'bulk' || $1 || '-' || n, 'bulk' || $1 || '-' || n || '@example.com', ($2::text[])[1 + n % 4]
           FROM generate_series(1, 30) AS n`,
          [`${i}-${round}`, everyDepartment],
        )
        await client.query(
          `UPDATE users SET department = ($1::text[])[1 + (id + $2) % 4] WHERE username LIKE $3 AND id % 3 = 0`,
          [everyDepartment, round, mine],
        )
        await client.query('DELETE FROM users WHERE username LIKE $1 AND id % 5 = $2', [mine, round])
        await client.query(round % 3 === 2 ? 'ROLLBACK' : 'COMMIT')
      }
    }),
  )
  const { counted, listed } = await totals(departments)
  t.same(listed, counted, 'after concurrent bulk writes')
  t.ok(counted.all > 100, `${counted.all} users`)

  await withClient(databaseUrl, async (client) => {
    // CASCADE: with the tables that refer to users, which a TRUNCATE of users alone refuses.
    await client.query('TRUNCATE users CASCADE')
    await client.query(
      `INSERT INTO users (username, email, department) VALUES ('again', 'again@example.com', 'Bulk A')`,
    )
  })
  t.same(await totals(departments), {
    counted: { all: 1, departments: { 'Bulk A': 1, 'Bulk B': 0, 'Bulk C': 0 } },
    listed: { all: 1, departments: { 'Bulk A': 1, 'Bulk B': 0, 'Bulk C': 0 } },
  })
})
