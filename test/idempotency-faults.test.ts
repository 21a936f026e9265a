import type { InjectOptions } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { MAX_ANSWER_BYTES } from '../plugins/app/idempotency.ts'
import { buildServer } from '../src/build.ts'
import { eventually } from './eventually.ts'
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
} from './helper.ts'
import { idempotencyRecords, newKey, newPrefix, usersNamed } from './idempotency-fixtures.ts'
import { uniqueUser } from './users-fixtures.ts'

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

/** Waits until the key is claimed (its first request is running); the claim's ms to live. */
async function claimed(app: Server, prefix: string, field: string): Promise<number> {
  let ttlMs = 0
  await eventually(async () => {
    const record = (await idempotencyRecords(app, prefix)).find(({ key }) => key.endsWith(field.slice(1, -1)))
    if (!record?.value || !('claim' in JSON.parse(record.value))) throw new Error('not claimed yet')
    ttlMs = record.ttlMs
  }, 5000)
  return ttlMs
}

const IN_USE = { statusCode: 409, code: 'IDEMPOTENCY_KEY_IN_USE', error: 'Conflict' }

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
  const ttlMs = await claimed(one, prefix, key)
  const claimMs = 4000 + Number(RELAXED_TIMEOUTS.REDIS_COMMAND_TIMEOUT_MS)
  t.ok(ttlMs > 0 && ttlMs <= claimMs, `the claim runs out by itself: ${ttlMs} ms left of ${claimMs}`)
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

t.test('a 5xx releases the key: the retry runs the write', async (t) => {
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

t.test('a handler timeout keeps the key: the write may still land, so retries wait, and it lands once', async (t) => {
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
  await eventually(async () => t.equal(await usersNamed(user.username), 1), 5000)

  // Once the claim runs out (1 s + 1 s after it was made), the retry runs the
  // write again, and the unique username answers it.
  await eventually(async () => {
    const res = await post(app, '/users', user, key)
    if (res.statusCode !== 409 || res.json().code !== 'USERNAME_TAKEN') throw new Error(res.body)
  }, 5000)
  t.equal(await usersNamed(user.username), 1, 'one row')
})

t.test('Redis lost after the write: the answer is sent and logged, not kept; retries never write twice', async (t) => {
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
      HTTP_HANDLER_TIMEOUT_MS: '5000',
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
  t.match((await post(app, '/users', user, key)).json(), IN_USE, 'a retry waits for the claim')
  await eventually(async () => {
    const res = await post(app, '/users', user, key)
    if (res.statusCode !== 409 || res.json().code !== 'USERNAME_TAKEN') throw new Error(res.body)
  }, 8000)
  t.equal(await usersNamed(user.username), 1, 'then runs again, and the unique username keeps it to one row')
})

t.test(`an answer over ${MAX_ANSWER_BYTES} bytes is sent, not kept: retries wait for the claim`, async (t) => {
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
  t.equal((await post(app, '/large', {}, key)).statusCode, 200, 'once the claim ran out, it runs again')
  t.equal(runs, 2)
})

t.test('a route cannot take keys without a handler timeout (nothing would bound its claim)', async (t) => {
  const app = await buildServer(await testConfig())
  t.teardown(() => app.close())
  t.throws(
    () => app.post('/sync', { config: { idempotencyKey: true, synchronous: true } }, async () => ({})),
    /POST \/sync: idempotencyKey needs a handler timeout/,
  )
})
