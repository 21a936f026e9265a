import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildServer } from '../src/build.ts'
import { build, LOG_LEVELS, logCollector, type Server, testConfig } from './helpers/app.ts'
import { exampleBody, operations, urlOf } from './helpers/openapi.ts'

const KEY = 'k3y-0f-the-writer-7c1d9e2f4b6a8d0c'
const OTHER_KEY = 'another-writer-key-5e3b1a9c7d2f4e6b'
const API_KEYS = `${KEY},${OTHER_KEY}`

const UNAUTHORIZED = {
  statusCode: 401,
  code: 'UNAUTHORIZED',
  error: 'Unauthorized',
  message: 'A valid API key is required: send Authorization: Bearer <key>',
}

/** Every write the API documents, as its example request: a body, at the ids of the examples. */
async function everyWrite(app: Server) {
  return (await operations(app))
    .filter((operation) => operation.writes)
    .map((operation) => ({
      name: operation.name,
      method: operation.method,
      url: urlOf(operation),
      payload: exampleBody(operation) as object | undefined,
    }))
}

/** The users and cache writes, with a valid body, for a user that exists. */
function writes(userId: number) {
  return [
    {
      method: 'POST',
      url: '/users',
      payload: { username: `u${randomUUID().slice(0, 8)}`, email: `${randomUUID()}@x.io` },
    },
    { method: 'PATCH', url: `/users/${userId}`, payload: { department: 'QA' } },
    { method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } },
    { method: 'DELETE', url: `/users/${userId}` },
  ] as const
}

async function newUser(app: Server, headers: Record<string, string> = {}): Promise<number> {
  const res = await app.inject({
    method: 'POST',
    url: '/users',
    headers,
    payload: { username: `u${randomUUID().slice(0, 8)}`, email: `${randomUUID()}@example.com` },
  })
  if (res.statusCode !== 201) throw new Error(`could not create a user: ${res.statusCode} ${res.body}`)
  return res.json().id
}

t.test(
  'with API_KEYS, every write without a valid key is a 401 with WWW-Authenticate, and changes nothing',
  async (t) => {
    const app = await build(t, { API_KEYS })
    const id = await newUser(app, { authorization: `Bearer ${KEY}` })
    const all = await everyWrite(app)
    t.ok(all.length >= 4, `${all.length} writes documented`)
    for (const authorization of [undefined, '', 'Bearer', 'Bearer ', `Basic ${KEY}`, `Bearer ${KEY}x`, 'Bearer nope']) {
      for (const write of [...all, ...writes(id)]) {
        const res = await app.inject({ ...write, headers: authorization === undefined ? {} : { authorization } })
        const name = `${write.method} ${write.url} with ${JSON.stringify(authorization)}`
        t.equal(res.statusCode, 401, name)
        t.equal(res.headers['www-authenticate'], 'Bearer', `${name}: WWW-Authenticate`)
        t.same(res.json(), UNAUTHORIZED, `${name}: the usual error body`)
        t.ok(res.headers['x-request-id'], `${name}: with its request id`)
      }
    }
    const user = await app.inject({ method: 'GET', url: `/users/${id}` })
    t.equal(user.statusCode, 200, 'the user is still there')
    t.equal(user.json().department, null, 'unchanged')
    t.equal((await app.inject({ method: 'GET', url: '/cache/k' })).statusCode, 404, 'nothing was cached')
  },
)

t.test('with a valid key (either of them, any case of "Bearer"), the users and cache writes go through', async (t) => {
  const app = await build(t, { API_KEYS })
  const id = await newUser(app, { authorization: `Bearer ${KEY}` })
  const statuses = []
  for (const [i, write] of writes(id).entries()) {
    const authorization = [`Bearer ${KEY}`, `bearer ${OTHER_KEY}`, `BEARER ${KEY}`, `Bearer ${OTHER_KEY}`][i]
    statuses.push((await app.inject({ ...write, headers: { authorization } })).statusCode)
  }
  t.same(statuses, [201, 200, 201, 204])
})

t.test('with a valid key, no documented write is refused for its key', async (t) => {
  const app = await build(t, { API_KEYS })
  for (const [i, write] of (await everyWrite(app)).entries()) {
    const authorization = [`Bearer ${KEY}`, `bearer ${OTHER_KEY}`, `BEARER ${KEY}`][i % 3]
    const res = await app.inject({ ...write, headers: { authorization } })
    t.ok(res.statusCode !== 401 && res.statusCode < 500, `${write.name}: ${res.statusCode}`)
  }
})

t.test('reads stay open with API_KEYS set', async (t) => {
  const app = await build(t, { API_KEYS })
  const reads = (await operations(app)).filter((operation) => !operation.writes).map((operation) => urlOf(operation))
  for (const url of [...reads, '/cache/absent', '/docs/json', '/metrics']) {
    const res = await app.inject({ method: 'GET', url })
    t.not(res.statusCode, 401, url)
    t.notOk(res.headers['www-authenticate'], `${url}: no challenge`)
  }
})

t.test('without API_KEYS writes are open, as in the original, and the log says so once at start', async (t) => {
  const logs = logCollector()
  const app = await build(t, {}, { logs })
  const warnings = logs.lines.filter((line) => /writes .* are open to anyone/.test(line.msg))
  t.equal(warnings.length, 1, 'one line')
  t.equal(warnings[0]?.level, LOG_LEVELS.warn, 'a warning')
  t.match(warnings[0]?.msg, /API_KEYS is not set/)
  const id = await newUser(app)
  t.equal((await app.inject({ method: 'DELETE', url: `/users/${id}` })).statusCode, 204)
  t.equal((await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } })).statusCode, 201)
})

t.test('with API_KEYS the start says writes need a key, and how many keys there are (never which)', async (t) => {
  const logs = logCollector()
  await build(t, { API_KEYS }, { logs })
  t.notOk(logs.lines.some((line) => /open to anyone/.test(line.msg)))
  t.match(
    logs.lines.find((line) => line.msg === 'writes need an API key'),
    { keys: 2, level: LOG_LEVELS.info },
  )
  t.notMatch(JSON.stringify(logs.lines), /k3y-0f|another-writer/)
})

t.test('the key is checked before the body is read: no 413, 415 or 400 for a client without a key', async (t) => {
  const app = await build(t, { API_KEYS, BODY_LIMIT: '1024' })
  const cases = [
    { name: 'a body over BODY_LIMIT', payload: JSON.stringify({ key: 'k', value: 'x'.repeat(10_000) }) },
    { name: 'a body that is not JSON', payload: '{"key": ', contentType: 'application/json' },
    { name: 'a foreign media type', payload: 'key=k', contentType: 'application/x-www-form-urlencoded' },
    { name: 'an invalid body', payload: JSON.stringify({ nokey: true }) },
  ]
  for (const { name, payload, contentType = 'application/json' } of cases) {
    const res = await app.inject({ method: 'POST', url: '/cache', payload, headers: { 'content-type': contentType } })
    t.equal(res.statusCode, 401, name)
  }
  const withKey = await app.inject({
    method: 'POST',
    url: '/cache',
    payload: cases[0].payload,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
  })
  t.equal(withKey.statusCode, 413, 'with a key, the same body meets the body limit')
})

t.test('a 401 counts against the rate limit, so keys cannot be guessed faster than RATE_LIMIT_MAX', async (t) => {
  const app = await build(t, { API_KEYS, RATE_LIMIT_MAX: '3' })
  const guess = (n: number) =>
    app.inject({
      method: 'POST',
      url: '/cache',
      payload: { key: 'k', value: 1 },
      headers: { authorization: `Bearer guess-${n}-${randomUUID()}` },
      remoteAddress: '192.0.2.10',
    })
  const statuses = []
  for (let n = 0; n < 5; n++) statuses.push((await guess(n)).statusCode)
  t.same(statuses, [401, 401, 401, 429, 429], 'three guesses, then the limiter answers')
  const limited = await guess(5)
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.notOk(limited.headers['www-authenticate'], 'the 429 comes first: the key is not even looked at')
  const right = await app.inject({
    method: 'POST',
    url: '/cache',
    payload: { key: 'k', value: 1 },
    headers: { authorization: `Bearer ${KEY}` },
    remoteAddress: '192.0.2.10',
  })
  t.equal(right.statusCode, 429, 'even the right key waits for the window')
})

/** The app at trace level, every log line kept as text, with one extra route that logs the request headers. */
async function buildLoggingHeaders(t: Test, env: Record<string, string>) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().trim().split('\n'))
      done()
    },
  })
  const app = await buildServer(await testConfig({ LOG_LEVEL: 'trace', ...env }), { stream })
  // Fastify's request serializer leaves the headers out; a route that logs them
  // with a serializer of its own still gets the redaction.
  app.get('/echo-headers', async (request) => {
    const log = request.log.child(
      {},
      { serializers: { req: (req: { headers: unknown }) => ({ headers: req.headers }) } },
    )
    log.info({ req: request.raw }, 'headers of the request')
    return {}
  })
  t.teardown(() => app.close())
  await app.ready()
  return { app, lines }
}

t.test('a real key never reaches the log: not on success, not on failure, and the header is redacted', async (t) => {
  const { app, lines } = await buildLoggingHeaders(t, { API_KEYS })
  const authorized = { authorization: `Bearer ${KEY}` }
  t.equal(
    (await app.inject({ method: 'POST', url: '/cache', payload: { key: 'a', value: 1 }, headers: authorized }))
      .statusCode,
    201,
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/cache',
        payload: { key: 'a', value: 1 },
        headers: { authorization: `Bearer ${KEY}z` },
      })
    ).statusCode,
    401,
  )
  t.equal((await app.inject({ method: 'GET', url: '/echo-headers', headers: authorized })).statusCode, 200)
  t.ok(lines.length > 5, `${lines.length} log lines at trace level`)
  t.notMatch(lines.join('\n'), new RegExp(KEY.slice(0, 12)), 'no trace of the key')
  const echoed = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'headers of the request')
  t.equal(echoed?.req?.headers?.authorization, '[redacted]', 'a logged authorization header is redacted')
})
