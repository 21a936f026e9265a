import t from 'tap'
import { build, freePort, services } from './helpers/app.ts'
import { postgresContainer, redisContainer } from './helpers/containers.ts'
import { eventually } from './helpers/eventually.ts'

// Start this file's own services first, so the timings below measure the app only.
await services()
// The two tests use containers and ports of their own, and mostly wait on them.
t.jobs = 2

t.test('the app starts with Redis unreachable, answers 503 for the cache, and heals when Redis comes up', async (t) => {
  const port = await freePort()
  const started = Date.now()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  // The start waits REDIS_COMMAND_TIMEOUT_MS (3 s in the tests) for Redis, then goes on
  // without it; the rest is the start itself (a fresh database's migrations included):
  // 3.2-3.8 s alone, up to 9.3 s with six test files at once on two cores. Waiting for
  // Redis would not end before it starts, below.
  const startMs = Date.now() - started
  t.ok(startMs < 20_000, `ready without Redis (${startMs} ms), not waiting for it`)

  t.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 200, 'routes without Redis still work')
  t.equal((await app.inject({ method: 'GET', url: '/cache/k' })).statusCode, 503)

  const redis = await redisContainer().withExposedPorts({ container: 6379, host: port }).start()
  t.teardown(() => redis.stop())
  const healedIn = await eventually(async () => {
    const res = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 'back' } })
    if (res.statusCode !== 201) throw new Error(`still ${res.statusCode}`)
  }, 10_000)
  t.comment(`cache writes succeed ${healedIn} ms after Redis is up`)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})

t.test(
  'the app starts with Postgres unreachable, answers 503 for users, and migrates when Postgres comes up',
  async (t) => {
    const port = await freePort()
    const started = Date.now()
    const app = await build(t, { DATABASE_URL: `postgres://test:test@127.0.0.1:${port}/test` })
    t.ok(Date.now() - started < 5000, 'ready without Postgres')

    t.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 503)
    t.equal((await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } })).statusCode, 201)

    const postgres = await postgresContainer()
      .withDatabase('test')
      .withUsername('test')
      .withPassword('test')
      .withExposedPorts({ container: 5432, host: port })
      .start()
    t.teardown(() => postgres.stop())
    const healedIn = await eventually(async () => {
      const res = await app.inject({ method: 'GET', url: '/users' })
      if (res.statusCode !== 200) throw new Error(`still ${res.statusCode}`)
    }, 15_000)
    t.comment(`users are served ${healedIn} ms after Postgres is up`)
    t.equal((await app.inject({ method: 'GET', url: '/users' })).json().total, 10, 'migrated and seeded on recovery')
    // Healthy once every migration is applied: the users table commits before the
    // last one (sql/005, outside the transaction) has built its index.
    await eventually(async () => {
      const res = await app.inject({ method: 'GET', url: '/health' })
      if (res.statusCode !== 200) throw new Error(`still ${res.statusCode}`)
    }, 10_000)
    t.pass('healthy once the migrations are all applied')
  },
)
