import { randomUUID } from 'node:crypto'
import type { InjectOptions } from 'fastify'
import t from 'tap'
import { build, freePort, type Server, services, tcpProxy } from './helpers/app.ts'
import { eventually } from './helpers/eventually.ts'
import { createUser, uniqueUser } from './helpers/users.ts'

// Redis is an optimisation for the user routes, never a dependency.

const { redisUrl } = await services()

async function timed(app: Server, request: InjectOptions) {
  const started = Date.now()
  const res = await app.inject(request)
  return { res, ms: Date.now() - started }
}

t.test('with Redis stopped (nothing listening), every user route works from Postgres', async (t) => {
  const port = await freePort()
  const app = await build(t, {
    REDIS_URL: `redis://127.0.0.1:${port}`,
  })

  const created = await timed(app, { method: 'POST', url: '/users', payload: uniqueUser() })
  t.equal(created.res.statusCode, 201, 'POST')
  const { id } = created.res.json()

  const steps = [
    { request: { method: 'GET' as const, url: `/users/${id}` }, status: 200 },
    { request: { method: 'GET' as const, url: '/users?limit=5' }, status: 200 },
    { request: { method: 'PATCH' as const, url: `/users/${id}`, payload: { department: 'QA' } }, status: 200 },
    { request: { method: 'GET' as const, url: `/users/${id}` }, status: 200 },
    { request: { method: 'DELETE' as const, url: `/users/${id}` }, status: 204 },
    { request: { method: 'GET' as const, url: `/users/${id}` }, status: 404 },
  ]
  for (const { request, status } of steps) {
    const { res, ms } = await timed(app, request)
    t.equal(res.statusCode, status, `${request.method} ${request.url}`)
    t.ok(ms < 3000, `${request.method} ${request.url} does not wait for Redis (${ms} ms)`)
    if (request.method === 'GET' && status === 200 && request.url.startsWith('/users/')) {
      t.equal(res.headers['x-cache'], 'bypass')
    }
  }
  const reads = await app.inject({ method: 'GET', url: '/users/1' })
  t.match(reads.json(), { id: 1, username: 'jsilva' })
  t.equal(reads.headers['x-cache'], 'bypass')
})

t.test('when Redis becomes unreachable mid-test, user routes keep working, then use the cache again', async (t) => {
  const proxy = await tcpProxy(t, new URL(redisUrl).host)
  const app = await build(t, { REDIS_URL: `redis://${proxy.address}` })
  const user = await createUser(app)
  await app.inject({ method: 'GET', url: `/users/${user.id}` })
  t.equal((await app.inject({ method: 'GET', url: `/users/${user.id}` })).headers['x-cache'], 'hit')

  proxy.cut()
  const read = await app.inject({ method: 'GET', url: `/users/${user.id}` })
  t.match(read, { statusCode: 200, headers: { 'x-cache': 'bypass' } })
  t.same(read.json(), user)

  const patched = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { full_name: 'Offline' } })
  t.equal(patched.statusCode, 200, 'a write succeeds although its invalidation fails')
  const afterPatch = await app.inject({ method: 'GET', url: `/users/${user.id}` })
  t.match(afterPatch, { statusCode: 200, headers: { 'x-cache': 'bypass' } })
  t.equal(afterPatch.json().full_name, 'Offline', 'and is read back at once')

  const other = await app.inject({ method: 'POST', url: '/users', payload: uniqueUser() })
  t.equal(other.statusCode, 201)
  t.equal((await app.inject({ method: 'DELETE', url: `/users/${other.json().id}` })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: `/users/${other.json().id}` })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 200)

  proxy.restore()
  const healedIn = await eventually(async () => {
    const res = await app.inject({ method: 'GET', url: `/users/${user.id}` })
    if (res.headers['x-cache'] !== 'hit') throw new Error(`x-cache: ${res.headers['x-cache']}`)
    t.equal(res.json().full_name, 'Offline', 'the cache holds the current row')
  }, 15_000)
  t.comment(`cached again ${healedIn} ms after Redis is reachable`)
})

t.test(
  'an invalidation that failed while Redis was unreachable is retried: no stale entry outlives the outage',
  async (t) => {
    // Two instances share Redis and Postgres; only instance A loses Redis.
    const prefix = `test:${randomUUID()}:`
    const proxy = await tcpProxy(t, new URL(redisUrl).host)
    const a = await build(t, { REDIS_KEY_PREFIX: prefix, REDIS_URL: `redis://${proxy.address}` })
    const b = await build(t, { REDIS_KEY_PREFIX: prefix })
    const user = await createUser(a, { full_name: 'Old' })
    await b.inject({ method: 'GET', url: `/users/${user.id}` })
    t.equal((await b.inject({ method: 'GET', url: `/users/${user.id}` })).headers['x-cache'], 'hit', 'B cached it')

    proxy.cut()
    const patched = await a.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { full_name: 'New' } })
    t.equal(patched.statusCode, 200, 'A commits the write; it cannot drop the entry')
    t.match((await a.inject({ method: 'GET', url: `/users/${user.id}` })).json(), { full_name: 'New' }, 'A reads it')
    // The residual risk, while the outage lasts: B still has the old entry.
    t.match((await b.inject({ method: 'GET', url: `/users/${user.id}` })).json(), { full_name: 'Old' })

    proxy.restore()
    const fixedIn = await eventually(async () => {
      const res = await b.inject({ method: 'GET', url: `/users/${user.id}` })
      if (res.json().full_name !== 'New') throw new Error('B still reads the old entry')
    }, 10_000)
    t.comment(`A dropped the stale entry ${fixedIn} ms after Redis came back (the TTL is 30 s)`)
    const fromA = await a.inject({ method: 'GET', url: `/users/${user.id}` })
    t.not(fromA.headers['x-cache'], 'bypass', 'A uses the cache again for this user')
    t.equal(fromA.json().full_name, 'New')
  },
)
