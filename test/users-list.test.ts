import { randomUUID } from 'node:crypto'
import t from 'tap'
import { build, RELAXED_TIMEOUTS } from './helper.ts'
import { createUser } from './users-fixtures.ts'

// One app for the file: every test works on users of its own, so they can share it.
const app = await build(t, RELAXED_TIMEOUTS)

t.test('GET /users pages through the users in id order; total counts every match', async (t) => {
  const department = `dept-${randomUUID()}`
  const created = []
  for (let i = 0; i < 5; i++) created.push(await createUser(app, { department }))
  const ids = created.map((user) => user.id)

  const page = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/users?department=${department}&${query}` })
    t.equal(res.statusCode, 200, query)
    const body = res.json()
    return { ...body, ids: body.users.map((user: { id: number }) => user.id) }
  }
  t.match(await page(''), { total: 5, limit: 100, offset: 0, ids }, 'defaults: limit 100, offset 0')
  t.match(await page('limit=2'), { total: 5, limit: 2, offset: 0, ids: ids.slice(0, 2) })
  t.match(await page('limit=2&offset=2'), { total: 5, offset: 2, ids: ids.slice(2, 4) })
  t.match(await page('limit=2&offset=4'), { total: 5, ids: ids.slice(4) }, 'a short last page')
  t.match(await page('offset=5'), { total: 5, ids: [] }, 'past the end: no users, same total')
  t.match(await page('offset=2147483647'), { total: 5, ids: [] }, 'the largest offset')
  t.match(await page('limit=1&offset=1'), { total: 5, ids: [ids[1]] })
  t.match(await page('limit=100'), { total: 5, ids }, 'the largest limit')
})

t.test('GET /users?department= filters by exact department; without it, lists everyone', async (t) => {
  const design = (await app.inject({ method: 'GET', url: '/users?department=Design' })).json()
  t.equal(design.total, 2)
  t.same(
    design.users.map((user: { username: string }) => user.username),
    ['mco\u0441\u0442\u0430', 'jrodrig'],
  )
  const accented = (
    await app.inject({ method: 'GET', url: `/users?department=${encodeURIComponent('Segurança')}` })
  ).json()
  t.same(
    accented.users.map((user: { username: string }) => user.username),
    ['lmartins'],
  )
  t.equal((await app.inject({ method: 'GET', url: '/users?department=design' })).json().total, 0, 'case-sensitive')
  t.equal((await app.inject({ method: 'GET', url: '/users?department=Nobody' })).json().total, 0)

  const everyone = (await app.inject({ method: 'GET', url: '/users?limit=3' })).json()
  t.ok(everyone.total >= 10, 'total counts every user, not the page')
  t.same(
    everyone.users.map((user: { id: number }) => user.id),
    [1, 2, 3],
  )
})

t.test('invalid paging or filter values are 400 JSON errors', async (t) => {
  const cases: [string, RegExp][] = [
    ['limit=abc', /querystring\/limit must be integer/],
    ['limit=0', /querystring\/limit must be >= 1/],
    ['limit=101', /querystring\/limit must be <= 100/],
    ['limit=1.5', /querystring\/limit must be integer/],
    ['limit=', /querystring\/limit must be integer/],
    ['limit=1&limit=2', /querystring\/limit must be integer/],
    ['offset=-1', /querystring\/offset must be >= 0/],
    ['offset=abc', /querystring\/offset must be integer/],
    ['offset=2147483648', /querystring\/offset must be <= 2147483647/],
    ['offset=1e309', /querystring\/offset must be a finite number/],
    ['limit=-1e309', /querystring\/limit must be a finite number/],
    ['department=', /querystring\/department must NOT have fewer than 1/],
    [`department=${'D'.repeat(51)}`, /querystring\/department must NOT have more than 50/],
    ['department=%00', /querystring\/department must match pattern/],
  ]
  for (const [query, message] of cases) {
    const res = await app.inject({ method: 'GET', url: `/users?${query}` })
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, query)
  }
})
