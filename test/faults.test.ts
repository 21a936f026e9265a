import tap, { type Test } from 'tap'
import { getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers'

const t = tap

import { build, freePort, type Server } from './helpers/app.ts'
import { postgresContainer, redisContainer } from './helpers/containers.ts'
import { eventually } from './helpers/eventually.ts'

// Fault injection on real services. This file has its own Postgres and Redis,
// published on fixed host ports so that they can be stopped and started again
// (same address) or paused (a server that accepts connections and never answers).
const [postgresPort, redisPort] = await Promise.all([freePort(), freePort()])
const [postgres, redis] = await Promise.all([
  postgresContainer().withExposedPorts({ container: 5432, host: postgresPort }).start(),
  redisContainer().withExposedPorts({ container: 6379, host: redisPort }).start(),
])
tap.teardown(() => Promise.all([postgres.stop(), redis.stop()]))
const docker = (await getContainerRuntimeClient()).container

function control(container: StartedTestContainer) {
  const handle = docker.getById(container.getId())
  return {
    stop: () => handle.stop({ t: 1 }),
    start: () => handle.start(),
    // The cgroup freezer can fail transiently on a busy machine: try again.
    pause: () => eventually(() => handle.pause(), 10_000, 500),
    unpause: () => handle.unpause(),
  }
}

const BOUND_MS = 2000

async function buildOnFaultyServices(t: Test, env: Record<string, string> = {}) {
  return build(t, {
    DATABASE_URL: postgres.getConnectionUri(),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    // The production bounds, which these tests are about.
    DB_CONNECT_TIMEOUT_MS: '1000',
    DB_STATEMENT_TIMEOUT_MS: '1000',
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    RATE_LIMIT_STORE_TIMEOUT_MS: '250',
    RATE_LIMIT_MAX: '1000',
    ...env,
  })
}

/** Sends `count` concurrent requests; returns each status and the slowest time. */
async function burst(app: Server, request: { method: 'GET' | 'POST'; url: string; payload?: object }, count = 8) {
  const started = Date.now()
  const responses = await Promise.all(Array.from({ length: count }, () => app.inject(request)))
  return {
    statuses: [...new Set(responses.map((res) => res.statusCode))],
    slowestMs: Date.now() - started,
    bodies: responses.map((res) => res.json()),
  }
}

const getUsers = { method: 'GET' as const, url: '/users' }
const getHealth = { method: 'GET' as const, url: '/health' }
const getRoot = { method: 'GET' as const, url: '/' }
const writeKey = (value: string) => ({ method: 'POST' as const, url: '/cache', payload: { key: 'fault', value } })

/**
 * Everything is served, concurrently. Retried for a while: a pool that opens
 * several connections at once on a busy CI machine can miss the 1 s connect
 * timeout, which is not what these tests are about.
 */
async function expectServing(t: Test, app: Server) {
  const tookMs = await eventually(async () => {
    const [users, writes, health] = await Promise.all([
      burst(app, getUsers),
      burst(app, writeKey('ok')),
      burst(app, getHealth, 2),
    ])
    const statuses = { users: users.statuses, writes: writes.statuses, health: health.statuses }
    if (JSON.stringify(statuses) !== JSON.stringify({ users: [200], writes: [201], health: [200] })) {
      throw new Error(`not everything is served yet: ${JSON.stringify(statuses)}`)
    }
  }, 20_000)
  t.pass(`users, cache writes and health all served (after ${tookMs} ms)`)
}

async function recovery(
  app: Server,
  request: { method: 'GET' | 'POST'; url: string; payload?: object },
  status: number,
) {
  return eventually(async () => {
    const res = await app.inject(request)
    if (res.statusCode !== status) throw new Error(`still ${res.statusCode}`)
  }, 20_000)
}

for (const fault of ['stop', 'pause'] as const) {
  t.test(
    `Redis ${fault === 'stop' ? 'stopped' : 'paused (hung)'}: cache routes 503 within 2 s, the rest keeps working, then it heals`,
    async (t) => {
      const app = await buildOnFaultyServices(t)
      await expectServing(t, app)
      const redisControl = control(redis)

      await redisControl[fault]()
      const [cacheWrite, cacheRead, users, root, health] = await Promise.all([
        burst(app, writeKey('during')),
        burst(app, { method: 'GET', url: '/cache/fault' }),
        burst(app, getUsers),
        burst(app, getRoot),
        burst(app, getHealth, 2),
      ])
      t.same(cacheWrite.statuses, [503], 'cache writes: 503')
      t.same(cacheRead.statuses, [503], 'cache reads: 503')
      t.match(cacheRead.bodies[0], { statusCode: 503, code: 'CACHE_UNAVAILABLE' })
      t.ok(
        Math.max(cacheWrite.slowestMs, cacheRead.slowestMs) < BOUND_MS,
        `cache answers within 2 s (${cacheRead.slowestMs} ms)`,
      )
      t.same(users.statuses, [200], 'users still served')
      t.same(root.statuses, [200], 'GET / still served')
      t.same(health.statuses, [503], 'health: 503')
      t.match(health.bodies[0], { status: 'degraded', services: { db: { status: 'ok' }, cache: { status: 'error' } } })
      t.ok(health.slowestMs < 1500, `health answers within its 1 s bound (${health.slowestMs} ms)`)
      t.comment(`Redis ${fault}: cache 503 after at most ${Math.max(cacheWrite.slowestMs, cacheRead.slowestMs)} ms`)

      await redisControl[fault === 'stop' ? 'start' : 'unpause']()
      const healedMs = await recovery(app, writeKey('after'), 201)
      t.comment(
        `Redis ${fault}: cache writes succeed again ${healedMs} ms after the ${fault === 'stop' ? 'start' : 'unpause'}`,
      )
      await expectServing(t, app)
    },
  )

  t.test(
    `Postgres ${fault === 'stop' ? 'stopped' : 'paused (hung)'}: users 503 within 2 s, the rest keeps working, then it heals`,
    async (t) => {
      const app = await buildOnFaultyServices(t)
      await expectServing(t, app)
      const postgresControl = control(postgres)

      await postgresControl[fault]()
      const [users, cacheWrite, root, health] = await Promise.all([
        burst(app, getUsers),
        burst(app, writeKey('during')),
        burst(app, getRoot),
        burst(app, getHealth, 2),
      ])
      t.same(users.statuses, [503], 'users: 503')
      t.match(users.bodies[0], { statusCode: 503, code: 'DB_UNAVAILABLE' })
      t.ok(users.slowestMs < BOUND_MS, `users answer within 2 s (${users.slowestMs} ms)`)
      t.same(cacheWrite.statuses, [201], 'cache still served')
      t.same(root.statuses, [200], 'GET / still served')
      t.same(health.statuses, [503], 'health: 503')
      t.match(health.bodies[0], { status: 'degraded', services: { db: { status: 'error' }, cache: { status: 'ok' } } })
      t.ok(health.slowestMs < 1500, `health answers within its 1 s bound (${health.slowestMs} ms)`)
      t.comment(`Postgres ${fault}: users 503 after at most ${users.slowestMs} ms`)

      await postgresControl[fault === 'stop' ? 'start' : 'unpause']()
      const healedMs = await recovery(app, getUsers, 200)
      t.comment(
        `Postgres ${fault}: users served again ${healedMs} ms after the ${fault === 'stop' ? 'start' : 'unpause'}`,
      )
      await expectServing(t, app)
    },
  )
}

t.test('a statement timeout inside a request does not poison later requests', async (t) => {
  // A small pool, so every connection meets the failure.
  const app = await buildOnFaultyServices(t, { DB_POOL_MAX: '2', DB_STATEMENT_TIMEOUT_MS: '500' })
  await expectServing(t, app)

  // Another session holds an exclusive lock on users: reads wait, then time out.
  const { default: pg } = await import('pg')
  const locker = new pg.Client({ connectionString: postgres.getConnectionUri() })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE')

  const blocked = await burst(app, getUsers, 4)
  t.same(blocked.statuses, [503], 'statement timeout: 503')
  t.ok(blocked.slowestMs < BOUND_MS, `within 2 s (${blocked.slowestMs} ms)`)

  await locker.query('ROLLBACK')
  for (let i = 0; i < 5; i++) t.same((await burst(app, getUsers, 4)).statuses, [200], `round ${i + 1}: served`)
})
