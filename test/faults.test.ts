import tap, { type Test } from 'tap'
import { getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers'

const t = tap

import { build, freePort, type Server, withClient } from './helpers/app.ts'
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

t.test('Postgres restarted under read load (fast shutdown, then a new start): no read fails', async (t) => {
  // A Postgres that starts again whenever its server exits, as `pg_ctl restart -m fast`
  // does in place; its log says when it went down and when it was ready again.
  const postgresLog: string[] = []
  const restartable = await postgresContainer()
    .withUser('postgres')
    .withCommand(['bash', '-c', 'docker-entrypoint.sh postgres; while :; do postgres; done'])
    .withLogConsumer((stream) => stream.on('data', (chunk) => postgresLog.push(...String(chunk).split('\n'))))
    .start()
  t.teardown(() => restartable.stop())
  const uri = restartable.getConnectionUri()
  const app = await buildOnFaultyServices(t, {
    DATABASE_URL: uri,
    // Most user reads then miss the cache and go to Postgres.
    USERS_CACHE_TTL_SECONDS: '1',
    RATE_LIMIT_MAX: '0',
  })
  await expectServing(t, app)

  const reads = [
    '/users',
    '/users?limit=5&department=Design',
    ...Array.from({ length: 10 }, (_, i) => `/users/${i + 1}`),
    // Absent users are never cached: every one is a read from Postgres (a 404).
    ...Array.from({ length: 10 }, (_, i) => `/users/${1000 + i}`),
  ]
  // When Postgres logged `pattern` last, after its log's line `since` (its own clock: the host's).
  const loggedAt = async (pattern: RegExp, since: number) => {
    let at: number | undefined
    await eventually(
      async () => {
        const line = postgresLog.slice(since).findLast((l) => pattern.test(l))
        const stamp = line?.match(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC/)
        if (!stamp) throw new Error(`Postgres has not logged ${pattern} yet`)
        at = Date.parse(`${stamp[1]}T${stamp[2]}Z`)
      },
      10_000,
      20,
    )
    return at as number
  }

  // A read whose connection was lost tries again for about a second, each try at
  // most 250 ms after the last (plugins/external/postgres.ts). An outage shorter
  // than that fails no read; a longer one (this test shares a 2-core machine with
  // the rest of the suite: a restart took 0.2 s alone and 1.8 s in one CI run)
  // fails, with a 503, only reads begun long enough before Postgres was ready
  // again that their second ran out first. Up to three restarts, until a short one.
  const SHORT_OUTAGE_MS = 600
  for (let round = 1; round <= 3; round++) {
    const outcomes: { url: string; status: number; startedAt: number; at: number }[] = []
    const started = Date.now()
    const restartAfterHalfASecond = async () => {
      await new Promise((resolve) => setTimeout(resolve, 500))
      // As before a planned restart: the shutdown then has little left to write.
      await withClient(uri, (client) => client.query('CHECKPOINT'))
      const logFrom = postgresLog.length
      await restartable.exec(['bash', '-c', 'kill -INT "$(head -1 "$PGDATA/postmaster.pid")"'])
      await eventually(() => withClient(uri, (client) => client.query('SELECT 1')), 20_000, 20)
      const down = (await loggedAt(/received fast shutdown request/, logFrom)) - started
      const ready = (await loggedAt(/ready to accept connections/, logFrom)) - started
      return { down, ready }
    }
    // Sixteen clients, each pausing 5 ms between reads: steady load that leaves the
    // restarting Postgres a share of the machine; they read until a second after
    // Postgres is back, so that every read begun during the outage has ended.
    let readUntil = Number.POSITIVE_INFINITY
    const client = async (offset: number) => {
      for (let i = offset; Date.now() - started < readUntil; i += 16) {
        const url = reads[i % reads.length]
        const startedAt = Date.now() - started
        const res = await app.inject({ method: 'GET', url })
        outcomes.push({ url, status: res.statusCode, startedAt, at: Date.now() - started })
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    const clients = Promise.all(Array.from({ length: 16 }, (_, i) => client(i)))
    const { down, ready } = await restartAfterHalfASecond()
    // Postgres answers again (it logged `ready` before that).
    readUntil = Date.now() - started + 1000
    await clients

    const failed = outcomes.filter((o) => o.status !== 200 && o.status !== 404)
    const during = outcomes.filter((o) => o.at >= down && o.at <= ready + 500)
    t.comment(
      `round ${round}: ${outcomes.length} reads; Postgres down from ${down} ms to ${ready} ms (${ready - down} ms); ` +
        `${during.length} reads answered from then to 0.5 s after; ${failed.length} failed`,
    )
    t.ok(during.length > 0, 'reads were answered across the restart')
    const unexplained = failed.filter((o) => o.status !== 503 || o.startedAt > ready - SHORT_OUTAGE_MS)
    t.same(unexplained.slice(0, 5), [], 'every failed read is a 503 begun at least 0.6 s before Postgres was ready')
    if (ready - down <= SHORT_OUTAGE_MS) {
      t.same(
        failed.slice(0, 5),
        [],
        `an outage of ${ready - down} ms: no read failed (${failed.length} of ${outcomes.length})`,
      )
      return
    }
  }
  t.fail(`no outage of ${SHORT_OUTAGE_MS} ms or less in three restarts: the machine is too busy to show it`)
})
