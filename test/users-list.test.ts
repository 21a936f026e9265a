import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MAX_OFFSET } from '../lib/schemas/users.ts'
import { LIST_ALL, LIST_DEPARTMENT } from '../plugins/app/users.ts'
import { build, services, withClient } from './helpers/app.ts'
import { createUser } from './helpers/users.ts'

// One app for the file: every test works on users of its own, so they can share it.
const app = await build(t)

async function list(url: string) {
  const res = await app.inject({ method: 'GET', url })
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  const body = res.json()
  return { ...body, link: res.headers.link, ids: body.users.map((user: { id: number }) => user.id) }
}

t.test('GET /users pages through the users in id order; total counts every match', async (t) => {
  const department = `dept-${randomUUID()}`
  const created = []
  for (let i = 0; i < 5; i++) created.push(await createUser(app, { department }))
  const ids = created.map((user) => user.id)

  const page = (query: string) => list(`/users?department=${department}&${query}`)
  t.match(await page(''), { total: 5, limit: 100, offset: 0, next: null, ids }, 'defaults: limit 100, offset 0')
  t.match(await page('limit=2'), { total: 5, limit: 2, offset: 0, ids: ids.slice(0, 2) })
  t.match(await page('limit=2&offset=2'), { total: 5, offset: 2, ids: ids.slice(2, 4) })
  t.match(await page('limit=2&offset=4'), { total: 5, ids: ids.slice(4), next: null }, 'a short last page')
  t.match(await page('offset=5'), { total: 5, ids: [] }, 'past the end: no users, same total')
  t.match(await page(`offset=${MAX_OFFSET}`), { total: 5, ids: [] }, 'the deepest offset')
  t.match(await page('limit=1&offset=1'), { total: 5, ids: [ids[1]] })
  t.match(await page('limit=100'), { total: 5, ids }, 'the largest limit')
  t.match(await page(`after=${ids[1]}`), { total: 5, ids: ids.slice(2) }, 'after: the users with a larger id')
  t.match(await page(`after=${ids[1]}&offset=1&limit=1`), { ids: [ids[3]] }, 'offset counts from after')
  t.match(await page(`after=${ids[4]}`), { total: 5, ids: [], next: null }, 'after the last: no users')
})

t.test('every page but the last links to the next, by after, with the same limit and department', async (t) => {
  const department = `Equipe ${randomUUID().slice(0, 8)} & Ç/ã?`
  const created = []
  for (let i = 0; i < 7; i++) created.push(await createUser(app, { department }))
  const ids = created.map((user) => user.id)
  const filter = `department=${encodeURIComponent(department)}`

  const seen: number[] = []
  let url: string | null = `/users?${filter}&limit=3`
  let pages = 0
  while (url) {
    const page = await list(url)
    pages++
    t.equal(page.total, 7, `page ${pages}: the total`)
    seen.push(...page.ids)
    if (page.next) {
      const last = page.ids[page.ids.length - 1]
      t.equal(page.next, `/users?after=${last}&limit=3&${filter}`, `page ${pages}: next is after its last id`)
      t.equal(page.link, `<${page.next}>; rel="next"`, `page ${pages}: the Link header says the same`)
    } else t.equal(page.link, undefined, `page ${pages}, the last: no Link`)
    url = page.next
  }
  t.equal(pages, 3, '7 users, 3 per page')
  t.same(seen, ids, 'every user once, in id order')

  const everyone = await list('/users?limit=4')
  t.equal(everyone.next, `/users?after=${everyone.ids[3]}&limit=4`, 'without a department, none in the link')
  const exactlyFull = await list(`/users?${filter}&after=${ids[3]}&limit=3`)
  t.match(exactlyFull, { ids: ids.slice(4), next: null, link: undefined }, 'a full last page has no next')
})

t.test('an offset past the bound is a 400 that says to page by after', async (t) => {
  const res = await app.inject({ method: 'GET', url: `/users?offset=${MAX_OFFSET + 1}` })
  t.equal(res.statusCode, 400)
  t.match(res.json(), {
    statusCode: 400,
    code: 'OFFSET_TOO_DEEP',
    message: new RegExp(`offset may be at most ${MAX_OFFSET}: for deeper pages use after=`),
  })
})

t.test('GET /users?department= filters by exact department; without it, lists everyone', async (t) => {
  const design = await list('/users?department=Design')
  t.equal(design.total, 2)
  t.same(
    design.users.map((user: { username: string }) => user.username),
    ['mco\u0441\u0442\u0430', 'jrodrig'],
  )
  const accented = await list(`/users?department=${encodeURIComponent('Segurança')}`)
  t.same(
    accented.users.map((user: { username: string }) => user.username),
    ['lmartins'],
  )
  t.equal((await list('/users?department=design')).total, 0, 'case-sensitive')
  t.equal((await list('/users?department=Nobody')).total, 0)

  const everyone = await list('/users?limit=3')
  t.ok(everyone.total >= 10, 'total counts every user, not the page')
  t.same(everyone.ids, [1, 2, 3])
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
    ['after=-1', /querystring\/after must be >= 0/],
    ['after=x', /querystring\/after must be integer/],
    ['after=2147483648', /querystring\/after must be <= 2147483647/],
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

t.test("the app's connections plan a statement once, for any values, and never compile it (JIT)", async (t) => {
  const { rows } = await app.db.query<{ mode: string; jit: string }>({
    text: "SELECT current_setting('plan_cache_mode') AS mode, current_setting('jit') AS jit",
  })
  t.same(rows, [{ mode: 'force_generic_plan', jit: 'off' }])
})

t.test('a page is read from an index in id order, never by scanning or sorting the table', async (t) => {
  const { databaseUrl } = await services()
  const plans = await withClient(databaseUrl, async (client) => {
    await client.query(`
      INSERT INTO users (username, email, department)
      SELECT 'plan' || i, 'plan' || i || '@example.com', (ARRAY['Plan A', 'Plan B', 'Plan C', 'Plan D', 'Plan E'])[1 + i % 5]
      FROM generate_series(1, 20000) AS i`)
    await client.query('ANALYZE users')
    await client.query(`PREPARE list_all (int, int, int) AS ${LIST_ALL}`)
    await client.query(`PREPARE list_department (text, int, int, int) AS ${LIST_DEPARTMENT}`)
    const explain = async (execute: string) =>
      (await client.query(`EXPLAIN ${execute}`)).rows.map((row) => row['QUERY PLAN']).join('\n')
    const plans: Record<string, string> = {}
    // Custom plans (for these values), then the generic plan a prepared statement may switch to.
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`)
      plans[`${mode}: first page`] = await explain('EXECUTE list_all (0, 101, 0)')
      plans[`${mode}: deep page`] = await explain('EXECUTE list_all (15000, 101, 0)')
      plans[`${mode}: offset`] = await explain(`EXECUTE list_all (0, 101, ${MAX_OFFSET})`)
      plans[`${mode}: department, first page`] = await explain("EXECUTE list_department ('Plan C', 0, 101, 0)")
      plans[`${mode}: department, deep page`] = await explain("EXECUTE list_department ('Plan C', 15000, 101, 0)")
      plans[`${mode}: department, offset`] = await explain(`EXECUTE list_department ('Plan C', 0, 101, ${MAX_OFFSET})`)
    }
    return plans
  })
  for (const [name, plan] of Object.entries(plans)) {
    const index = name.includes('department') ? 'users_department_id_idx' : 'users_pkey'
    t.match(plan, new RegExp(`Index Scan using ${index} on users`), `${name}: ${index}`)
    t.notMatch(plan, /Seq Scan on users|Bitmap Heap Scan on users|Sort\b/, `${name}: no scan of the table, no sort`)
  }
})
