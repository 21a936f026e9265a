import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildServer } from '../src/build.ts'
import { build, freePort, testConfig } from './helpers/app.ts'

/** The app with every log line (trace level) collected, and one extra route that fails unexpectedly. */
async function buildWithLogs(t: Test, env: Record<string, string> = {}) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().trim().split('\n'))
      done()
    },
  })
  const config = await testConfig({ LOG_LEVEL: 'trace', ...env })
  const app = await buildServer(config, { stream })
  app.get('/boom', async () => {
    throw new Error('secret internals: connect ECONNREFUSED 10.0.0.7:5432 at Object.query (/app/x.js:1:1)')
  })
  t.teardown(() => app.close())
  await app.ready()
  return { app, lines }
}

t.test('API answers carry the headers a JSON API needs, precomputed and nothing more', async (t) => {
  const app = await build(t)
  for (const url of ['/', '/users', '/cache/absent', '/nope']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.headers['cache-control'], 'no-store', url)
    t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.equal(res.headers['x-frame-options'], 'DENY', url)
    t.equal(res.headers['x-powered-by'], undefined, url)
    t.equal(res.headers['referrer-policy'], undefined, `${url}: a page's headers are for /docs only`)
  }
})

t.test("the Swagger UI under /docs gets helmet's full policy", async (t) => {
  const app = await build(t)
  for (const url of ['/docs/', '/docs/json', '/docs/static/index.css']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-security-policy'], /default-src 'self'/, url)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.equal(res.headers['referrer-policy'], 'no-referrer', url)
    t.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url)
    t.equal(res.headers['strict-transport-security'], undefined, `${url}: no HSTS over plain HTTP`)
  }
})

t.test("the CSP admits the Swagger UI's own scripts and styles", async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  const csp = String(res.headers['content-security-policy'])
  for (const hash of [...app.swaggerCSP.script, ...app.swaggerCSP.style]) t.ok(csp.includes(hash), `CSP has ${hash}`)
  t.notMatch(csp, /upgrade-insecure-requests/, 'plain HTTP keeps working')
})

t.test('CORS is off unless CORS_ORIGINS lists the origin', async (t) => {
  const closed = await build(t)
  const res = await closed.inject({ method: 'GET', url: '/', headers: { origin: 'https://app.example' } })
  t.equal(res.headers['access-control-allow-origin'], undefined)

  const open = await build(t, { CORS_ORIGINS: 'https://app.example,https://admin.example' })
  const allowed = await open.inject({ method: 'GET', url: '/', headers: { origin: 'https://admin.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://admin.example')
  const denied = await open.inject({ method: 'GET', url: '/', headers: { origin: 'https://evil.example' } })
  t.equal(denied.headers['access-control-allow-origin'], undefined)

  const preflight = await open.inject({
    method: 'OPTIONS',
    url: '/cache',
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, idempotency-key',
    },
  })
  t.equal(preflight.statusCode, 204)
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.match(preflight.headers['access-control-allow-headers'], /idempotency-key/, 'a browser may send a key')
  const write = await open.inject({
    method: 'POST',
    url: '/cache',
    headers: { origin: 'https://app.example' },
    payload: { key: 'k', value: 1 },
  })
  t.match(write.headers['access-control-expose-headers'], /idempotent-replayed/, 'and read the replay header')

  const any = await build(t, { CORS_ORIGINS: '*' })
  const star = await any.inject({ method: 'GET', url: '/', headers: { origin: 'https://whoever.example' } })
  t.equal(star.headers['access-control-allow-origin'], '*')
})

t.test('an unexpected error is a 500 that hides its message and stack, which go to the log', async (t) => {
  const { app, lines } = await buildWithLogs(t)
  const res = await app.inject({ method: 'GET', url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  t.notMatch(res.body, /secret|ECONNREFUSED|at Object|\.js:/)
  t.ok(
    lines.some((line) => line.includes('secret internals') && line.includes('"stack"')),
    'the log has the real error with its stack',
  )
})

t.test('passwords and credentials never reach the log', async (t) => {
  const dbPort = await freePort()
  const redisPort = await freePort()
  const { app, lines } = await buildWithLogs(t, {
    DATABASE_URL: `postgres://postgres:db-s3cret-pw@127.0.0.1:${dbPort}/desafio3`,
    REDIS_URL: `redis://:redis-s3cret-pw@127.0.0.1:${redisPort}`,
  })
  await app.inject({ method: 'GET', url: '/users', headers: { authorization: 'Bearer token-s3cret' } })
  await app.inject({ method: 'GET', url: '/health', headers: { cookie: 'session=cookie-s3cret' } })
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } })
  t.ok(lines.length > 5, `${lines.length} log lines written`)
  t.notMatch(lines.join('\n'), /s3cret/)
})

t.test('JSON bodies are validated as sent: no type coercion', async (t) => {
  const app = await build(t)
  for (const [payload, message] of [
    [{ key: 123, value: 1 }, /body\/key must be string/],
    [{ key: true, value: 1 }, /body\/key must be string/],
    [{ key: 'k', value: 1, ttl: '60' }, /body\/ttl must be integer/],
    [{ key: 'k', value: 1, ttl: null }, /body\/ttl must be integer/],
    [{ key: ['k'], value: 1 }, /body\/key must be string/],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/cache', payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json().message, message)
  }
})

t.test('params are still parsed from the URL', async (t) => {
  const app = await build(t)
  t.equal((await app.inject({ method: 'POST', url: '/cache', payload: { key: '123', value: 1 } })).statusCode, 201)
  t.equal((await app.inject({ method: 'GET', url: '/cache/123' })).json().key, '123')
})

t.test('constructor and prototype keys in a body are rejected, and nothing is polluted', async (t) => {
  const app = await build(t)
  for (const payload of [
    '{"key": "p1", "value": {"__proto__": {"polluted": 1}}}',
    '{"key": "p2", "value": {"constructor": {"prototype": {"polluted": 1}}}}',
    '{"__proto__": {"polluted": 1}, "key": "p3", "value": 1}',
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/cache',
      headers: { 'content-type': 'application/json' },
      payload,
    })
    t.equal(res.statusCode, 400, payload)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request' })
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
