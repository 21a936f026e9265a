import t from 'tap'
import { build, freePort } from './helpers/app.ts'

t.test('GET /health is 200 healthy when Postgres and Redis answer', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(body.services, {
    web: { status: 'ok', service: 'Fastify API' },
    db: { status: 'ok', service: 'PostgreSQL' },
    cache: { status: 'ok', service: 'Redis' },
  })
  t.equal(body.status, 'healthy')
  t.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000)
})

t.test('GET /health is 503 degraded, naming the failed service, when Postgres is unreachable', async (t) => {
  const port = await freePort()
  const app = await build(t, { DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/desafio3` })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.ok(Date.now() - started < 1500, 'answers within the 1 s check bound')
  t.equal(res.statusCode, 503)
  t.match(res.json(), {
    status: 'degraded',
    services: {
      web: { status: 'ok' },
      db: { status: 'error', service: 'PostgreSQL', error: 'unreachable' },
      cache: { status: 'ok' },
    },
  })
})

t.test('GET /health is 503 degraded when Redis is unreachable', async (t) => {
  const port = await freePort()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), {
    status: 'degraded',
    services: { db: { status: 'ok' }, cache: { status: 'error', service: 'Redis', error: 'unreachable' } },
  })
})

t.test('GET /health reports a dependency that does not answer as a timeout, within about 1 s', async (t) => {
  // A listener that accepts connections and never answers: a hung server.
  const { createServer } = await import('node:net')
  const sockets = new Set<import('node:net').Socket>()
  const silent = createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const { port } = silent.address() as { port: number }
  const app = await build(t, {
    DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/desafio3`,
    DB_CONNECT_TIMEOUT_MS: '3000',
    MIGRATE_ON_START: 'false',
  })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health' })
  const elapsed = Date.now() - started
  t.ok(elapsed >= 900 && elapsed < 1500, `bounded by the check timeout (${elapsed} ms)`)
  t.equal(res.statusCode, 503)
  t.match(res.json().services.db, { status: 'error', error: 'no answer within 1000 ms' })
})

t.test('GET /health/ready answers like /health: 200 healthy, 503 degraded', async (t) => {
  const app = await build(t)
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().status, 'healthy')

  const port = await freePort()
  const degraded = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  const res = await degraded.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { status: 'degraded', services: { cache: { status: 'error', error: 'unreachable' } } })
})

t.test('GET /health/live is 200 while the process runs, even with both dependencies down', async (t) => {
  const [postgresPort, redisPort] = [await freePort(), await freePort()]
  const app = await build(t, {
    DATABASE_URL: `postgres://postgres:x@127.0.0.1:${postgresPort}/desafio3`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    MIGRATE_ON_START: 'false',
  })
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 503, 'the dependencies are down')
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health/live' })
  t.ok(Date.now() - started < 500, 'answers at once: it calls no dependency')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})
