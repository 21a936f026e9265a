import t, { type Test } from 'tap'
import { build, services, withClient } from './helpers/app.ts'
import { createUser } from './helpers/users.ts'

// Every users route answers through its response schema: a field the schema
// does not declare never reaches the wire, whatever Postgres or the cache
// hands the route. Here the table grows a column the API must never show, and
// the cache holds an entry with fields of its own.

const USER_FIELDS = ['created_at', 'department', 'email', 'full_name', 'id', 'username']
const SECRET = 'never-on-the-wire'

const app = await build(t)
await withClient((await services()).databaseUrl, (client) =>
  client.query(`ALTER TABLE users ADD COLUMN password_hash text NOT NULL DEFAULT '${SECRET}'`),
)

function check(t: Test, what: string, res: { statusCode: number; body: string }, status: number) {
  t.equal(res.statusCode, status, what)
  t.notOk(res.body.includes(SECRET), `${what}: no undeclared field in the body`)
}
const fields = (user: object) => Object.keys(user).sort()

t.test('lists: only the declared fields of each user, of the page', async (t) => {
  await createUser(app, { department: 'Gate' })
  for (const url of [
    '/users',
    '/users?limit=2',
    '/users?after=3&limit=2',
    '/users?department=Gate',
    '/users?offset=1',
  ]) {
    const res = await app.inject({ method: 'GET', url })
    check(t, `GET ${url}`, res, 200)
    const page = res.json()
    t.same(Object.keys(page).sort(), ['limit', 'next', 'offset', 'total', 'users'], `GET ${url}: the page's fields`)
    for (const user of page.users) t.same(fields(user), USER_FIELDS)
  }
})

t.test('writes and reads of one user: only the declared fields', async (t) => {
  const created = await app.inject({
    method: 'POST',
    url: '/users',
    payload: { username: 'gated', email: 'gated@example.com', department: 'Gate' },
  })
  check(t, 'POST /users', created, 201)
  const { id } = created.json()
  t.same(fields(created.json()), USER_FIELDS)

  const changed = await app.inject({ method: 'PATCH', url: `/users/${id}`, payload: { full_name: 'Gated Person' } })
  check(t, 'PATCH /users/:id', changed, 200)
  t.same(fields(changed.json()), USER_FIELDS)

  for (const outcome of ['miss', 'hit']) {
    const res = await app.inject({ method: 'GET', url: `/users/${id}` })
    check(t, `GET /users/:id (${outcome})`, res, 200)
    t.equal(res.headers['x-cache'], outcome)
    t.same(fields(res.json()), USER_FIELDS)
  }
})

t.test('a cache entry with fields of its own: only the declared ones leave', async (t) => {
  const user = await createUser(app)
  const planted = { ...user, full_name: 'From the cache', password_hash: SECRET, internal: { secret: SECRET } }
  await app.redis.set(`users:${user.id}`, JSON.stringify(planted), 'EX', 60)
  const res = await app.inject({ method: 'GET', url: `/users/${user.id}` })
  check(t, 'GET /users/:id from the planted entry', res, 200)
  t.equal(res.headers['x-cache'], 'hit')
  t.same(res.json(), { ...user, full_name: 'From the cache' }, 'the entry, through the schema')
})
