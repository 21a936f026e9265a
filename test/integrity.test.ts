import t from 'tap'
import { build } from './helpers/app.ts'

// What Postgres refuses in a write becomes a 4xx with the usual error body, in
// one place (plugins/external/postgres.ts, lib/postgres-errors.ts): here on
// tables of the test's own, through the app's `db.query`, as a repository
// would run them.

const app = await build(t)
await app.db.query({
  text: `CREATE TABLE shelves (id int PRIMARY KEY, label varchar(5) NOT NULL UNIQUE CHECK (label <> 'none'));
         CREATE TABLE books (id int PRIMARY KEY, shelf_id int NOT NULL REFERENCES shelves (id), added date)`,
})
await app.db.query({ text: `INSERT INTO shelves VALUES (1, 'a'), (2, 'b'); INSERT INTO books VALUES (1, 1, NULL)` })

/** The error a statement ends with, as the error handler would answer it. */
async function refused(text: string, values: unknown[] = [], named = {}) {
  const err = await app.db.query({ text, values }, named).then(
    () => undefined,
    (err: Error & { statusCode?: number; code?: string }) => err,
  )
  return err && { statusCode: err.statusCode, code: err.code, message: err.message }
}

t.test(
  'a unique value taken is a 409 ALREADY_EXISTS, or the error the statement names for its constraint',
  async (t) => {
    t.same(await refused('INSERT INTO shelves VALUES (3, $1)', ['a']), {
      statusCode: 409,
      code: 'ALREADY_EXISTS',
      message: 'Conflicts with existing data: a value that must be unique is taken',
    })
    t.same(await refused('INSERT INTO shelves VALUES (1, $1)', ['c']), {
      statusCode: 409,
      code: 'ALREADY_EXISTS',
      message: 'Conflicts with existing data: a value that must be unique is taken',
    })
    const labelTaken = Object.assign(new Error("label 'a' is taken"), { statusCode: 409, code: 'LABEL_TAKEN' })
    t.match(await refused('INSERT INTO shelves VALUES (3, $1)', ['a'], { shelves_label_key: () => labelTaken }), {
      statusCode: 409,
      code: 'LABEL_TAKEN',
    })
    t.match(
      await refused('INSERT INTO shelves VALUES (1, $1)', ['c'], { shelves_label_key: () => labelTaken }),
      { code: 'ALREADY_EXISTS' },
      'another constraint of the same statement: the generic error',
    )
  },
)

t.test('a reference to a missing row is a 422; removing a row still referred to, a 409', async (t) => {
  t.same(await refused('INSERT INTO books VALUES (2, $1)', [99]), {
    statusCode: 422,
    code: 'REFERENCE_NOT_FOUND',
    message: 'Refers to something that does not exist',
  })
  t.match(await refused('UPDATE books SET shelf_id = $1 WHERE id = 1', [99]), { statusCode: 422 })
  t.same(await refused('DELETE FROM shelves WHERE id = $1', [1]), {
    statusCode: 409,
    code: 'STILL_REFERENCED',
    message: 'Other data still refers to it (books): remove that first',
  })
  t.same(await refused('DELETE FROM shelves WHERE id = $1', [2]), undefined, 'a row nothing refers to goes')
})

t.test('a value the table cannot hold is a 400 INVALID_VALUE that says which kind', async (t) => {
  const cases: [string, unknown[], RegExp][] = [
    ['INSERT INTO shelves VALUES (5, $1)', ['longer than five'], /text is longer than its column holds/],
    ['INSERT INTO shelves VALUES (5, $1)', [null], /label is required/],
    ['INSERT INTO shelves VALUES (5, $1)', ['none'], /breaks the rule shelves_label_check/],
    ['INSERT INTO shelves VALUES ($1, $2)', ['x', 'c'], /not in the form its column takes/],
    ['INSERT INTO shelves VALUES ($1, $2)', [2 ** 40, 'c'], /number is out of the range/],
    ['INSERT INTO books VALUES (3, 1, $1)', ['2026-02-30'], /date or time/],
    ['INSERT INTO shelves VALUES (5, $1)', ['a\u0000b'], /character that cannot be stored/],
  ]
  for (const [text, values, message] of cases) {
    const err = await refused(text, values)
    t.match(err, { statusCode: 400, code: 'INVALID_VALUE', message }, `${text} ${JSON.stringify(values)}`)
    t.notMatch(err?.message, /violates|invalid input|relation/, 'not Postgres’s own words')
  }
})

t.test('any other failure of a statement stays a 500, its cause in the log', async (t) => {
  const err = await refused('SELECT 1 / 0')
  t.equal(err?.statusCode, undefined, 'not mapped (a division by zero is no fault of the input)')
  t.match(err?.code, '22012')
})

t.test('through the API: a 409 with the usual error body', async (t) => {
  const body = { username: 'integrity', email: 'integrity@example.com' }
  t.equal((await app.inject({ method: 'POST', url: '/users', payload: body })).statusCode, 201)
  const again = await app.inject({ method: 'POST', url: '/users', payload: { ...body, email: 'other@example.com' } })
  t.same(again.json(), {
    statusCode: 409,
    code: 'USERNAME_TAKEN',
    error: 'Conflict',
    message: "username 'integrity' is already taken",
  })
})
