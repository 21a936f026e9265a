import t from 'tap'
import { build, withClient } from '../helpers/app.ts'
import { postgresContainer } from '../helpers/containers.ts'
import { eventually } from '../helpers/eventually.ts'

// A serial test (.taprc): tap runs it alone, once the files before it have
// ended and before those after it start. What it shows depends on how long
// Postgres takes to restart: 0.06-0.17 s alone, up to 1.4 s on 2 cores shared
// with five other test files (their processes, containers and databases).

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
  const app = await build(t, {
    DATABASE_URL: uri,
    // The production bounds, which this test is about.
    DB_CONNECT_TIMEOUT_MS: '1000',
    DB_STATEMENT_TIMEOUT_MS: '1000',
    // Most user reads then miss the cache and go to Postgres.
    USERS_CACHE_TTL_SECONDS: '1',
    RATE_LIMIT_MAX: '0',
  })
  const servedAfterMs = await eventually(async () => {
    const res = await app.inject({ method: 'GET', url: '/users' })
    if (res.statusCode !== 200) throw new Error(`GET /users is still a ${res.statusCode}`)
  }, 20_000)
  t.pass(`users served (after ${servedAfterMs} ms)`)

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
  // than that fails no read; a longer one fails, with a 503, only reads begun long
  // enough before Postgres was ready again that their second ran out first. Up to
  // three restarts, until a short one.
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
