import t from 'tap'
import { build } from './helpers/app.ts'

t.test('GET / describes the service with the original fields', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.equal(body.service, 'Desafio 3 - Docker Compose')
  t.match(body.version, /^\d+\.\d+\.\d+/)
  t.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000, 'timestamp is ISO 8601 and current')
  // The original's names and paths, exactly: its clients read them.
  const ORIGINAL = {
    info: '/',
    users: '/users',
    user_get: '/users/<id>',
    user_create: '/users (POST)',
    user_update: '/users/<id> (PATCH)',
    user_delete: '/users/<id> (DELETE)',
    cache_set: '/cache (POST)',
    cache_get: '/cache/<key>',
    health: '/health',
    docs: '/docs',
    health_live: '/health/live',
    health_ready: '/health/ready',
    metrics: '/metrics',
  }
  t.same(
    Object.fromEntries(Object.keys(ORIGINAL).map((name) => [name, body.endpoints[name]])),
    ORIGINAL,
    'the original endpoints, under their names',
  )
  t.same(body.services, { web: 'Fastify API', db: 'PostgreSQL 15', cache: 'Redis 7' })
})

t.test('an unknown route is a 404 JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/nope not found' })
})

t.test('a known path with the wrong method is a 404 JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'DELETE', url: '/health' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { statusCode: 404, error: 'Not Found' })
})

t.test('malformed JSON is a 400 JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/cache',
    headers: { 'content-type': 'application/json' },
    payload: '{"key": "a", "value": ',
  })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /JSON/ })
})

t.test('a body over BODY_LIMIT is a 413 JSON error', async (t) => {
  const app = await build(t, { BODY_LIMIT: '2048' })
  const payload = JSON.stringify({ key: 'big', value: 'x'.repeat(4096) })
  const res = await app.inject({
    method: 'POST',
    url: '/cache',
    headers: { 'content-type': 'application/json' },
    payload,
  })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { statusCode: 413, error: 'Payload Too Large', message: /too large/i })
})

t.test('the default body limit is 1 MiB', async (t) => {
  const app = await build(t, { CACHE_MAX_VALUE_BYTES: String(2 * 1024 * 1024) })
  const value = 'x'.repeat(1024 * 1024)
  const res = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'big', value } })
  t.equal(res.statusCode, 413)
  const fits = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'big', value: value.slice(100) } })
  t.equal(fits.statusCode, 201)
})

t.test('an unsupported content type is a 415 JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/cache',
    headers: { 'content-type': 'application/xml' },
    payload: '<key>value</key>',
  })
  t.equal(res.statusCode, 415)
  t.match(res.json(), { statusCode: 415, error: 'Unsupported Media Type' })
})

t.test('a JSON body with a __proto__ key is rejected, not merged', async (t) => {
  const app = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/cache',
    headers: { 'content-type': 'application/json' },
    payload: '{"key": "p", "value": {"__proto__": {"polluted": true}}}',
  })
  t.equal(res.statusCode, 400)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
