import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import t from 'tap'
import { RATE_LIMIT_NAMESPACE } from '../plugins/external/rate-limit.ts'
import { build, freePort, LOG_LEVELS, logCollector, type Server } from './helpers/app.ts'

const get = (app: Server, url: string, remoteAddress = '127.0.0.1') => app.inject({ method: 'GET', url, remoteAddress })

t.test('over RATE_LIMIT_MAX in the window: 429 JSON with retry-after; after the window, served again', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '2000' })
  // One budget per client across the limited routes.
  const urls = ['/', '/users', '/cache/absent', '/', '/users']
  for (const [i, url] of urls.entries()) {
    const res = await get(app, url)
    t.not(res.statusCode, 429, `request ${i + 1} (${url}) is served`)
    t.equal(res.headers['x-ratelimit-limit'], '5')
    t.equal(res.headers['x-ratelimit-remaining'], String(4 - i))
  }

  const limited = await get(app, '/users')
  const limitedAt = Date.now()
  t.equal(limited.statusCode, 429, 'the 6th request is limited')
  t.match(limited.headers['content-type'], /^application\/json/)
  t.same(limited.json(), {
    statusCode: 429,
    code: 'RATE_LIMITED',
    error: 'Too Many Requests',
    message: `Rate limit exceeded, retry in ${limited.headers['retry-after'] === '1' ? '1 second' : '2 seconds'}`,
  })
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 2, `retry-after is the rest of the window in seconds (${retryAfter})`)
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.ok(limited.headers['x-request-id'], 'and the request id')

  await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 - (Date.now() - limitedAt) + 50))
  const again = await get(app, '/users')
  t.equal(again.statusCode, 200, 'served again once retry-after has passed')
  t.equal(again.headers['x-ratelimit-remaining'], '4', 'with a fresh budget')
  t.comment(`6th request: 429, retry-after ${retryAfter} s; served again ${Date.now() - limitedAt} ms later`)
})

t.test('each client address has its own budget', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '2' })
  for (let i = 0; i < 2; i++) t.equal((await get(app, '/', '192.0.2.1')).statusCode, 200)
  t.equal((await get(app, '/', '192.0.2.1')).statusCode, 429)
  t.equal((await get(app, '/', '192.0.2.2')).statusCode, 200, 'another client is still served')
})

t.test('health checks, /metrics and /docs are never limited', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '1' })
  await get(app, '/')
  t.equal((await get(app, '/')).statusCode, 429, 'the budget is spent')
  for (const url of ['/health', '/health/live', '/health/ready', '/metrics', '/docs/json']) {
    for (let i = 0; i < 3; i++) {
      const res = await get(app, url)
      t.equal(res.statusCode, 200, `${url} #${i + 1}`)
      t.notOk(res.headers['x-ratelimit-limit'], `${url} carries no rate-limit headers`)
    }
  }
})

t.test('two instances on one Redis share the budget (it holds across replicas)', async (t) => {
  const env = { RATE_LIMIT_MAX: '4', REDIS_KEY_PREFIX: `replicas-${randomUUID()}:` }
  const [one, two] = await Promise.all([build(t, env), build(t, env)])
  t.equal((await get(one, '/')).statusCode, 200)
  t.equal((await get(two, '/')).statusCode, 200)
  t.equal((await get(one, '/')).statusCode, 200)
  const fourth = await get(two, '/')
  t.equal(fourth.statusCode, 200)
  t.equal(fourth.headers['x-ratelimit-remaining'], '0', 'the 4th request, on either instance, spends the last one')
  t.equal((await get(one, '/')).statusCode, 429)
  t.equal((await get(two, '/')).statusCode, 429)
})

t.test('the counters live among the internal keys, out of reach of the public cache', async (t) => {
  const prefix = `rl-${randomUUID()}:`
  const app = await build(t, { RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_MS: '60000', REDIS_KEY_PREFIX: prefix })
  await get(app, '/')
  const raw = app.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true })
  t.teardown(() => raw.quit())
  const key = `${prefix}${RATE_LIMIT_NAMESPACE}127.0.0.1`
  t.equal(await raw.get(key), '1', `counted under ${prefix}${RATE_LIMIT_NAMESPACE}<address>`)
  const ttl = await raw.pttl(key)
  t.ok(ttl > 0 && ttl <= 60_000, `expires with the window (${ttl} ms left)`)
  const read = await get(app, `/cache/${encodeURIComponent(`${RATE_LIMIT_NAMESPACE}127.0.0.1`)}`)
  t.equal(read.statusCode, 404, 'the cache API cannot read it')
})

t.test('RATE_LIMIT_MAX=0 turns rate limiting off', async (t) => {
  const prefix = `off-${randomUUID()}:`
  const app = await build(t, { RATE_LIMIT_MAX: '0', REDIS_KEY_PREFIX: prefix })
  for (let i = 0; i < 30; i++) {
    const res = await get(app, '/')
    if (res.statusCode !== 200 || res.headers['x-ratelimit-limit']) t.fail(`request ${i + 1} was limited`)
  }
  t.same(await app.redis.keys(`${RATE_LIMIT_NAMESPACE}*`), [], 'nothing is counted')
})

t.test('Redis unreachable: requests are served unlimited (fail open), with a warning, never a 500', async (t) => {
  const logs = logCollector()
  const port = await freePort()
  const app = await build(t, { RATE_LIMIT_MAX: '2', REDIS_URL: `redis://127.0.0.1:${port}` }, { logs })
  for (let i = 0; i < 6; i++) {
    const res = await get(app, '/users')
    t.equal(res.statusCode, 200, `request ${i + 1} is served`)
  }
  const cache = await get(app, '/cache/k')
  t.equal(cache.statusCode, 503, 'a route that needs Redis says so, as before')
  const warnings = logs.lines.filter((line) => line.plugin === 'rate-limit' && line.level === LOG_LEVELS.warn)
  t.equal(warnings.length, 1, 'one warning when the store fails, not one per request')
  t.match(warnings[0]?.msg, /rate limit store unavailable: requests pass unlimited/)
})

t.test('a Redis outage while running: fail open, then limits apply again when it is back', async (t) => {
  const logs = logCollector()
  const app = await build(t, { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' }, { logs })
  t.equal((await get(app, '/')).headers['x-ratelimit-remaining'], '2')

  const ended = once(app.redis, 'end')
  app.redis.disconnect()
  await ended
  for (let i = 0; i < 5; i++) t.equal((await get(app, '/')).statusCode, 200, `outage request ${i + 1} is served`)

  await app.redis.connect()
  t.equal((await get(app, '/')).headers['x-ratelimit-remaining'], '1', 'the count resumes where it was')
  t.equal((await get(app, '/')).statusCode, 200)
  t.equal((await get(app, '/')).statusCode, 429)
  t.match(
    logs.lines.filter((line) => line.plugin === 'rate-limit').map((line) => line.msg),
    [/unavailable/, /answers again/],
    'the log tells when limits stop and start applying',
  )
})
