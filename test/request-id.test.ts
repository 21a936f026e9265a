import t from 'tap'
import { build, freePort, logCollector } from './helpers/app.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('without x-request-id, each request gets a new UUID, returned in x-request-id', async (t) => {
  const app = await build(t)
  const first = await app.inject({ method: 'GET', url: '/' })
  const second = await app.inject({ method: 'GET', url: '/' })
  t.match(first.headers['x-request-id'], UUID)
  t.match(second.headers['x-request-id'], UUID)
  t.not(first.headers['x-request-id'], second.headers['x-request-id'], 'a different id per request')
})

t.test("the caller's x-request-id is kept and returned", async (t) => {
  const app = await build(t)
  for (const id of [
    'abc-123',
    '01HZX3J5Q9V8M2N4P6R8T0W2Y4',
    'Root=1-67891233-abcdef012345678912345678',
    'a'.repeat(128),
  ]) {
    const res = await app.inject({ method: 'GET', url: '/', headers: { 'x-request-id': id } })
    t.equal(res.headers['x-request-id'], id, id.slice(0, 40))
  }
})

t.test('an unsafe or oversized x-request-id is replaced by a new UUID', async (t) => {
  const app = await build(t)
  const unsafe = [
    'a'.repeat(129),
    'has space',
    'quote"injection',
    'back\\slash',
    '{"msg":"forged"}',
    'tab\there',
    'ação',
    '',
  ]
  for (const id of unsafe) {
    const res = await app.inject({ method: 'GET', url: '/', headers: { 'x-request-id': id } })
    t.match(res.headers['x-request-id'], UUID, JSON.stringify(id).slice(0, 40))
  }
})

t.test('errors and unknown routes carry the request id too', async (t) => {
  const app = await build(t)
  const headers = { 'x-request-id': 'trace-42' }
  const notFound = await app.inject({ method: 'GET', url: '/nope', headers })
  t.equal(notFound.statusCode, 404)
  t.equal(notFound.headers['x-request-id'], 'trace-42')
  const invalid = await app.inject({ method: 'POST', url: '/cache', headers, payload: { value: 1 } })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.headers['x-request-id'], 'trace-42')
})

t.test('every log line of a request carries its id', async (t) => {
  // Redis unreachable: the request fails, so it logs more than its completion.
  const logs = logCollector()
  const port = await freePort()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` }, { logs })
  const before = logs.lines.length

  const res = await app.inject({ method: 'GET', url: '/cache/k', headers: { 'x-request-id': 'req-log-1' } })
  t.equal(res.statusCode, 503)
  const health = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'req-log-2' } })
  t.equal(health.statusCode, 503)

  const during = logs.lines.slice(before).filter((line) => line.plugin === undefined)
  const ids = new Set(during.map((line) => line.requestId))
  t.same([...ids].sort(), ['req-log-1', 'req-log-2'], 'no line of these requests lacks the id')
  t.match(
    during.filter((line) => line.requestId === 'req-log-1').map((line) => line.msg),
    ['request failed', 'request completed'],
  )
  const failed = during.find((line) => line.msg === 'request failed')
  t.match(
    failed?.err,
    { message: /^Cache unavailable, try again later: Stream isn't writeable/ },
    'the cause is in the failure line',
  )
  t.ok(
    during.some((line) => line.requestId === 'req-log-2' && line.msg === 'health check failed'),
    'the health check names the failing dependency under the request id',
  )
})
