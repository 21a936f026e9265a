import type { InjectOptions } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { MAX_ANSWER_BYTES } from '../plugins/app/idempotency.ts'
import { buildServer } from '../src/build.ts'
import {
  build,
  freePort,
  LOG_LEVELS,
  logCollector,
  RELAXED_TIMEOUTS,
  type Server,
  services,
  tcpProxy,
  testConfig,
} from './helpers/app.ts'
import { eventually } from './helpers/eventually.ts'
import { idempotencyRecords, newKey, newPrefix, usersNamed } from './helpers/idempotency.ts'
import { uniqueUser } from './helpers/users.ts'

// What a write with an Idempotency-Key does when something fails: Redis, Postgres, the handler's time.

const { databaseUrl, redisUrl } = await services()

function post(server: Server, url: string, payload: unknown, key?: string) {
  return server.inject({
    method: 'POST',
    url,
    payload: payload as InjectOptions['payload'],
    headers: key === undefined ? {} : { 'idempotency-key': key },
  })
}

/** Holds a lock on the users table that makes every insert wait, until `release()`. */
async function blockInserts(t: Test) {
  const locker = new pg.Client({ connectionString: databaseUrl })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE users IN EXCLUSIVE MODE')
  return { release: () => locker.query('ROLLBACK') }
}

/** Waits until the key is claimed (its first request is running); the ms left of its lease and of its record. */
async function claimed(app: Server, prefix: string, field: string) {
  let left = { leaseMs: 0, recordMs: 0 }
  await eventually(async () => {
    const record = (await idempotencyRecords(app, prefix)).find(({ key }) => key.endsWith(field.slice(1, -1)))
    const claim = JSON.parse(record?.value ?? '{}')
    if (!record || !('token' in claim)) throw new Error('not claimed yet')
    left = { leaseMs: claim.leaseEnds - Date.now(), recordMs: record.ttlMs }
  }, 5000)
  return left
}

const IN_USE = { statusCode: 409, code: 'IDEMPOTENCY_KEY_IN_USE', error: 'Conflict' }

/** Retries the request with its key while the answer is "in progress" (until the lease ends): the first other answer. */
async function afterLease(app: Server, url: string, payload: unknown, key: string, timeoutMs: number) {
  let answer: Awaited<ReturnType<typeof post>> | undefined
  await eventually(async () => {
    answer = await post(app, url, payload, key)
    if (answer.statusCode === 409 && answer.json().code === IN_USE.code) throw new Error('still in progress')
  }, timeoutMs)
  return answer as Awaited<ReturnType<typeof post>>
}

t.test('Redis unreachable: a write with a key is a 503 that writes nothing; without a key, as before', async (t) => {
  const port = await freePort()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  const user = uniqueUser('noredis')
  for (const [url, payload] of [
    ['/users', user],
    ['/cache', { key: 'k', value: 1 }],
  ] as const) {
    const started = Date.now()
    const res = await post(app, url, payload, newKey())
    t.ok(Date.now() - started < 2000, `${url}: answered within 2 s`)
    t.equal(res.statusCode, 503, url)
    t.same(res.json(), {
      statusCode: 503,
      code: 'IDEMPOTENCY_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'Idempotency keys cannot be checked now, try again later',
    })
  }
  t.equal(await usersNamed(user.username), 0, 'no user was created')
  t.equal((await post(app, '/users', user)).statusCode, 201, 'without a key the user is created')
})

t.test('two replicas: a retry while the first runs is a 409 with retry-after, then it gets the answer', async (t) => {
  const prefix = newPrefix()
  const env = { ...RELAXED_TIMEOUTS, REDIS_KEY_PREFIX: prefix, HTTP_HANDLER_TIMEOUT_MS: '4000' }
  const [one, two] = await Promise.all([build(t, env), build(t, env)])
  const user = uniqueUser('inflight')
  const key = newKey()
  const inserts = await blockInserts(t)

  const first = post(one, '/users', user, key)
  const { leaseMs, recordMs } = await claimed(one, prefix, key)
  const leaseBound = 4000 + Number(RELAXED_TIMEOUTS.REDIS_COMMAND_TIMEOUT_MS)
  t.ok(leaseMs > 0 && leaseMs <= leaseBound, `the lease ends by itself: ${leaseMs} ms left of ${leaseBound}`)
  t.ok(recordMs > 86_000_000, 'the record lives 24 hours')
  const retry = await post(two, '/users', user, key)
  t.match(retry.json(), IN_USE, 'the retry on the other replica: in progress')
  t.equal(retry.headers['retry-after'], '1')
  t.equal((await post(two, '/users', uniqueUser(), key)).statusCode, 422, 'another request with the key: 422')

  await inserts.release()
  const answer = await first
  t.equal(answer.statusCode, 201)
  const replay = await post(two, '/users', user, key)
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, answer.body)
  t.equal(await usersNamed(user.username), 1)
})

t.test('a 5xx ends the lease at once: the retry finds no user, and runs the write', async (t) => {
  const proxy = await tcpProxy(t, new URL(databaseUrl).host)
  const proxied = new URL(databaseUrl)
  proxied.host = proxy.address
  const app = await build(t, { ...RELAXED_TIMEOUTS, DATABASE_URL: proxied.toString(), DB_CONNECT_TIMEOUT_MS: '1000' })
  const user = uniqueUser('released')
  const key = newKey()

  proxy.cut()
  const failed = await post(app, '/users', user, key)
  t.equal(failed.statusCode, 503)
  t.equal(failed.json().code, 'DB_UNAVAILABLE')
  proxy.restore()

  const retried = await post(app, '/users', user, key)
  t.equal(retried.statusCode, 201, 'the retry ran the write')
  t.notOk(retried.headers['idempotent-replayed'])
  t.equal(await usersNamed(user.username), 1)
})

t.test('a handler timeout keeps the key until its lease ends; then the retry finds the user it created', async (t) => {
  const prefix = newPrefix()
  const app = await build(t, {
    ...RELAXED_TIMEOUTS,
    REDIS_KEY_PREFIX: prefix,
    HTTP_HANDLER_TIMEOUT_MS: '1000',
    REDIS_COMMAND_TIMEOUT_MS: '1000',
  })
  const user = uniqueUser('timeout')
  const key = newKey()
  const inserts = await blockInserts(t)

  const timedOut = await post(app, '/users', user, key)
  t.equal(timedOut.statusCode, 503)
  t.equal(timedOut.json().code, 'FST_ERR_HANDLER_TIMEOUT')
  t.match((await post(app, '/users', user, key)).json(), IN_USE, 'still claimed: the insert is waiting')
  await inserts.release()
  // The insert commits once released: wait for it (t.equal would record the first look as a failure).
  await eventually(async () => {
    const rows = await usersNamed(user.username)
    if (rows !== 1) throw new Error(`${rows} rows yet`)
  }, 5000)
  t.pass('the timed-out request created its user once released')

  // The lease ends 1 s + 1 s after the claim: the retry resumes it, and finds the user.
  const resumed = await afterLease(app, '/users', user, key, 5000)
  t.equal(resumed.statusCode, 201, 'the user the timed-out request created')
  t.equal(resumed.headers['idempotent-replayed'], 'true', 'not created again')
  t.match(resumed.json(), { ...user, id: Number })
  t.equal(resumed.headers.location, `/users/${resumed.json().id}`)
  const again = await post(app, '/users', user, key)
  t.equal(again.body, resumed.body, 'that answer is kept')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(await usersNamed(user.username), 1, 'one row')
})

t.test(
  'Redis lost after the write: the answer is sent, and logged; once the lease ends the retry finds the user',
  async (t) => {
    const prefix = newPrefix()
    const proxy = await tcpProxy(t, new URL(redisUrl).host)
    const logs = logCollector()
    const app = await build(
      t,
      {
        ...RELAXED_TIMEOUTS,
        REDIS_URL: `redis://${proxy.address}`,
        REDIS_KEY_PREFIX: prefix,
        REDIS_COMMAND_TIMEOUT_MS: '1000',
        HTTP_HANDLER_TIMEOUT_MS: '3000',
      },
      { logs },
    )
    const user = uniqueUser('unkept')
    const key = newKey()
    const inserts = await blockInserts(t)

    const first = post(app, '/users', user, key)
    await claimed(app, prefix, key)
    proxy.cut()
    await inserts.release()
    const answer = await first
    t.equal(answer.statusCode, 201, 'the write committed: its answer is sent')
    t.match(
      logs.lines.find((line) => /answer not stored/.test(line.msg)),
      { level: LOG_LEVELS.error, redisKey: `idempotency:any:${key.slice(1, -1)}` },
      'and the log says it was not kept',
    )

    proxy.restore()
    await eventually(async () => {
      if ((await post(app, '/cache', { key: 'k', value: 1 }, newKey())).statusCode !== 201) throw new Error('no Redis')
    }, 5000)
    t.match((await post(app, '/users', user, key)).json(), IN_USE, 'a retry waits for the lease')
    const resumed = await afterLease(app, '/users', user, key, 8000)
    t.equal(resumed.statusCode, 201)
    t.equal(resumed.body, answer.body, 'the first answer again, found in Postgres')
    t.equal(resumed.headers['idempotent-replayed'], 'true')
    t.equal(await usersNamed(user.username), 1, 'one row')
  },
)

t.test(
  'an answer Redis evicted: POST /users runs again and meets its username, POST /cache writes again',
  async (t) => {
    const prefix = newPrefix()
    const app = await build(t, { ...RELAXED_TIMEOUTS, REDIS_KEY_PREFIX: prefix })
    const raw = app.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true })
    t.teardown(() => raw.quit())
    const evict = async (field: string) => t.equal(await raw.del(`${prefix}idempotency:any:${field.slice(1, -1)}`), 1)

    const user = uniqueUser('evicted')
    const userKey = newKey()
    t.equal((await post(app, '/users', user, userKey)).statusCode, 201)
    await evict(userKey)
    const again = await post(app, '/users', user, userKey)
    t.equal(again.statusCode, 409, 'a conflict, not a second user')
    t.equal(again.json().code, 'USERNAME_TAKEN')
    t.equal(await usersNamed(user.username), 1)

    const write = { key: `evicted-${newPrefix()}`, value: 'first' }
    const cacheKey = newKey()
    t.equal((await post(app, '/cache', write, cacheKey)).statusCode, 201)
    t.equal((await post(app, '/cache', { ...write, value: 'since' })).statusCode, 201)
    await evict(cacheKey)
    const rewritten = await post(app, '/cache', write, cacheKey)
    t.equal(rewritten.statusCode, 201)
    t.notOk(rewritten.headers['idempotent-replayed'], 'run again')
    t.equal((await app.inject({ method: 'GET', url: `/cache/${write.key}` })).json().value, 'first', 'its value again')
  },
)

t.test(
  `an answer over ${MAX_ANSWER_BYTES} bytes is sent, not kept: retries wait for the lease, then run`,
  async (t) => {
    const logs = logCollector()
    const config = await testConfig({
      LOG_LEVEL: 'info',
      HTTP_HANDLER_TIMEOUT_MS: '1000',
      REDIS_COMMAND_TIMEOUT_MS: '1000',
    })
    const app = await buildServer(config, { stream: logs.stream })
    let runs = 0
    app.post('/large', { config: { idempotencyKey: true } }, async () => {
      runs++
      return { filler: 'x'.repeat(MAX_ANSWER_BYTES) }
    })
    t.teardown(() => app.close())
    await app.ready()

    const key = newKey()
    t.equal((await post(app, '/large', {}, key)).statusCode, 200)
    t.match(
      logs.lines.find((line) => /too large/.test(line.msg)),
      { level: LOG_LEVELS.warn },
    )
    t.match((await post(app, '/large', {}, key)).json(), IN_USE)
    t.equal(runs, 1, 'the retry did not run')
    await new Promise((resolve) => setTimeout(resolve, 2100))
    t.equal((await post(app, '/large', {}, key)).statusCode, 200, 'once the lease ended, it runs again')
    t.equal(runs, 2)
  },
)

t.test('a route cannot take keys without a handler timeout (nothing would bound its claim)', async (t) => {
  const app = await buildServer(await testConfig())
  t.teardown(() => app.close())
  t.throws(
    () => app.post('/sync', { config: { idempotencyKey: true, synchronous: true } }, async () => ({})),
    /POST \/sync: idempotencyKey needs a handler timeout/,
  )
})
