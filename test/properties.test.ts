import fc from 'fast-check'
import t from 'tap'
import { MAX_JSON_DEPTH } from '../plugins/app/json-depth.ts'
import { build } from './helpers/app.ts'
import { exampleBody, type Operation, operations, urlOf } from './helpers/openapi.ts'

// Property-based tests over every route the OpenAPI document lists: whatever
// the params, querystring, body and content type, the answer is never a 5xx,
// an error is always JSON with a message, nothing is polluted, and the
// process keeps serving.

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150)

const queryNames = (operation: Operation) =>
  (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
const bodyFields = (operation: Operation) => Object.keys(operation.bodySchema?.properties ?? {})

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__']

/** Any text, including control characters, lone surrogates turned into bytes, and very long strings. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\n', '%', '../..', "' OR 1=1 --", '1e309', '-1', '0', '101', 'NaN', 'null'),
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
)

/** A path segment as raw URL text: percent-encoded random bytes (valid UTF-8 or not) or plain text. */
const pathSegment = fc.oneof(
  anyText.map((text) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, '?'))),
  fc
    .uint8Array({ maxLength: 30 })
    .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(String),
)

/** JSON values with prototype keys, odd numbers, unicode and some depth. */
const anyJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    anyText,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(anyText, fc.constantFrom(...PROTOTYPE_KEYS)), tie('value'), { maxKeys: 5 }),
  ),
})).value

/** Bodies: objects with the fields of the operation's body schema, arbitrary JSON, and broken text. */
function bodies(operation: Operation) {
  const fields = [...bodyFields(operation), 'key', 'value']
  return fc.oneof(
    fc
      .record(Object.fromEntries(fields.map((name) => [name, fc.oneof(anyText, anyJson, fc.integer(), fc.double())])), {
        requiredKeys: [],
      })
      .map((body) => JSON.stringify(body)),
    anyJson.map((value) => JSON.stringify(value)),
    fc.constantFrom(...PROTOTYPE_KEYS).map((key) => `{"${key}": {"polluted": true}, "key": "k", "value": 1}`),
    fc.integer({ min: MAX_JSON_DEPTH - 2, max: 50_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    fc
      .integer({ min: 1, max: 50_000 })
      .map((depth) => `{"key":"deep","value":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
    anyText,
  )
}

const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
)

function requestFor(operation: Operation) {
  const segments = operation.path.split('/').filter(Boolean)
  const params = segments.filter((segment) => segment.startsWith('{'))
  return fc.record({
    pathValues: fc.array(pathSegment, { minLength: params.length, maxLength: params.length }),
    query: fc.dictionary(fc.oneof(fc.constantFrom(...queryNames(operation), 'x'), anyText), anyText, { maxKeys: 4 }),
    body: fc.option(bodies(operation), { nil: undefined }),
    contentType: contentTypes,
  })
}

let seen = 0

t.test('no input makes any route answer a 5xx, and errors are JSON with a message', async (t) => {
  // No rate limit: every generated request must reach its route.
  const app = await build(t, { RATE_LIMIT_MAX: '0' })
  const routes = await operations(app)
  t.ok(routes.length >= 11, `${routes.length} operations under test`)

  for (const operation of routes) {
    await fc.assert(
      fc.asyncProperty(requestFor(operation), async ({ pathValues, query, body, contentType }) => {
        seen++
        let index = 0
        const path = operation.path.replace(/\{[^}]+\}/g, () => pathValues[index++] || '%20')
        const search = new URLSearchParams()
        for (const [name, value] of Object.entries(query)) search.append(name, value.replace(/[\uD800-\uDFFF]/g, '?'))
        const res = await app.inject({
          method: operation.method,
          url: `${path}${search.size ? `?${search}` : ''}`,
          headers: body === undefined || contentType === '' ? {} : { 'content-type': contentType },
          payload: body,
        })
        if (res.statusCode >= 500) throw new Error(`${operation.method} ${path}: ${res.statusCode} ${res.body}`)
        if (res.statusCode >= 400) {
          const error = res.json()
          if (typeof error.message !== 'string' || error.statusCode !== res.statusCode) {
            throw new Error(`not a JSON error: ${res.body}`)
          }
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    )
    t.pass(`${operation.method} ${operation.path}: ${RUNS} generated requests, no 5xx`)
  }

  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  t.same(Object.keys(Object.prototype), [], 'no enumerable property was added to Object.prototype')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'still healthy afterwards')
  t.comment(`${seen} generated requests in total`)
})

// Input that passes validation but that a table may refuse, to every write of
// the document: its example body changed a little (a text with a suffix from a
// small pool, so the same value comes again; another number, so a reference
// may point nowhere; null), at ids that exist, do not, or are referred to.
// Postgres refuses some of them (a unique value taken, a missing or a still
// referenced row, a value its column cannot hold): each is a 4xx, never a 5xx.

function nearExample(example: unknown): fc.Arbitrary<unknown> {
  if (typeof example === 'string') {
    const suffixed = (suffix: string) =>
      example.includes('@') ? example.replace('@', `${suffix}@`) : `${example}${suffix}`
    return fc.oneof(fc.constant(example), fc.constantFrom('1', 'x', 'é', 'x'.repeat(60)).map(suffixed))
  }
  if (typeof example === 'number') {
    return fc.oneof(fc.constant(example), fc.integer({ min: 0, max: 40 }), fc.constant(2_147_483_647))
  }
  if (example !== null && typeof example === 'object' && !Array.isArray(example)) {
    const fields = Object.entries(example)
    return fc
      .tuple(...fields.map(([, value]) => fc.option(nearExample(value), { nil: null, freq: 8 })))
      .map((values) => Object.fromEntries(fields.map(([name], i) => [name, values[i]])))
  }
  return fc.constant(example)
}

t.test('input a table refuses is a documented 4xx on every write, never a 5xx', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '0' })
  const writes = (await operations(app)).filter((operation) => operation.writes)
  const statuses = new Map<number, number>()
  for (const operation of writes) {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }).map(String),
        nearExample(exampleBody(operation)),
        async (id, body) => {
          const url = urlOf(
            operation,
            Object.fromEntries(operation.path.match(/\{\w+\}/g)?.map((p) => [p.slice(1, -1), id]) ?? []),
          )
          const res = await app.inject({ method: operation.method, url, payload: body as object | undefined })
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
          if (res.statusCode >= 500) throw new Error(`${operation.name} ${url}: ${res.statusCode} ${res.body}`)
          if (!(res.statusCode in operation.responses)) {
            throw new Error(
              `${operation.name} answered ${res.statusCode}, which its document does not list: ${res.body}`,
            )
          }
          if (res.statusCode >= 400 && res.json().statusCode !== res.statusCode)
            throw new Error(`not an error body: ${res.body}`)
        },
      ),
      { numRuns: RUNS, includeErrorInReport: true },
    )
    t.pass(`${operation.name}: ${RUNS} requests near its example, no 5xx`)
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.ok(statuses.get(409), 'some were refused as conflicts (a value taken)')
})

t.test('bodies nested deeper than the limit are a 400 that says so', async (t) => {
  const app = await build(t)
  const deep = (depth: number) => `{"key":"deep","value":${'['.repeat(depth)}${']'.repeat(depth)}}`
  const ok = await app.inject({
    method: 'POST',
    url: '/cache',
    headers: { 'content-type': 'application/json' },
    payload: deep(MAX_JSON_DEPTH - 1),
  })
  t.equal(ok.statusCode, 201, 'at the limit: stored')
  for (const depth of [MAX_JSON_DEPTH, 10_000, 400_000]) {
    const res = await app.inject({
      method: 'POST',
      url: '/cache',
      headers: { 'content-type': 'application/json' },
      payload: deep(depth),
    })
    t.equal(res.statusCode, 400, `depth ${depth + 1}`)
    t.match(res.json(), { code: 'FST_ERR_BODY_TOO_DEEP', message: /more than 64 levels/ })
  }
})

// The Authorization header of a write, with API keys set: whatever it holds,
// the answer is a 401 (never a 5xx), one body and one challenge for every
// wrong header, whether or not it is close to a real key.

const KEYS = ['first-api-key-0123456789abcdef', 'second-api-key-of-another-length-0123456789']

/** A header that does not carry one of KEYS (the scheme is case-insensitive, blanks around the key do not count). */
const notAKey = (header: string) =>
  !(header.slice(0, 7).toLowerCase() === 'bearer ' && KEYS.includes(header.slice(7).trim()))

const authorizationHeaders = fc.oneof(
  fc.constant(''),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer', 'Bearer  ', ' Bearer'),
  // Wrong scheme, with a real key.
  fc
    .tuple(fc.constantFrom('Basic', 'Token', 'Digest', 'Bearer:', 'Bearerx', 'ApiKey', 'X'), fc.constantFrom(...KEYS))
    .map(([scheme, key]) => `${scheme} ${key}`),
  // Long.
  fc.integer({ min: 1, max: 20_000 }).map((n) => `Bearer ${'k'.repeat(n)}`),
  // Non-ASCII (latin1 as HTTP carries it, and beyond).
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map((text) => `Bearer ${text}`),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map((text) => `Bearer ${text.replace(/[\r\n\0]/g, '')}`),
  // Several keys in one header.
  fc.constantFrom(
    `Bearer ${KEYS[0]} ${KEYS[1]}`,
    `Bearer ${KEYS[0]},${KEYS[1]}`,
    `Bearer ${KEYS[0]}, Bearer ${KEYS[1]}`,
    `Bearer ${KEYS.join('')}`,
  ),
  // A key of another length: a real key cut short or extended.
  fc
    .tuple(fc.constantFrom(...KEYS), fc.integer({ min: 0, max: 60 }), fc.string({ maxLength: 8 }))
    .map(([key, cut, extra]) => `Bearer ${key.slice(0, cut)}${extra}`),
  // The length of a real key, one character off.
  fc.tuple(fc.constantFrom(...KEYS), fc.nat(), fc.constantFrom('0', 'x', '-', '~')).map(([key, at, char]) => {
    const i = at % key.length
    return `Bearer ${key.slice(0, i)}${key[i] === char ? 'y' : char}${key.slice(i + 1)}`
  }),
  // Anything at all.
  anyText.map((text) => text.replace(/[\r\n\0]/g, '')),
)

t.test('with API keys, any wrong Authorization header is the same 401, never a 5xx', async (t) => {
  const app = await build(t, { API_KEYS: KEYS.join(','), RATE_LIMIT_MAX: '0' })
  // A user of this test's own (the test above writes without keys to any id).
  const created = await app.inject({
    method: 'POST',
    url: '/users',
    headers: { authorization: `Bearer ${KEYS[0]}` },
    payload: { username: 'keyholder', email: 'keyholder@example.com', department: 'QA' },
  })
  t.equal(created.statusCode, 201, 'a user created with a key')
  const user = created.json()
  const writes = [
    { method: 'POST', url: '/cache', payload: { key: 'property', value: 1 } },
    { method: 'POST', url: '/users', payload: { username: 'property', email: 'property@example.com' } },
    { method: 'PATCH', url: `/users/${user.id}`, payload: { department: 'Hacked' } },
    { method: 'DELETE', url: `/users/${user.id}` },
  ] as const
  let reference: { body: string; headers: string[] } | undefined
  let runs = 0
  await fc.assert(
    fc.asyncProperty(authorizationHeaders.filter(notAKey), fc.constantFrom(...writes), async (authorization, write) => {
      runs++
      let res: Awaited<ReturnType<typeof app.inject>>
      try {
        res = await app.inject({ ...write, headers: { authorization } })
      } catch (err) {
        // A header value no HTTP client can send (light-my-request refuses it like Node does).
        if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR') return
        throw err
      }
      if (res.statusCode !== 401) throw new Error(`${res.statusCode} for ${JSON.stringify(authorization)}: ${res.body}`)
      if (res.headers['www-authenticate'] !== 'Bearer') throw new Error('no WWW-Authenticate: Bearer')
      const seen = { body: res.body, headers: Object.keys(res.headers).sort() }
      reference ??= seen
      if (JSON.stringify(seen) !== JSON.stringify(reference)) {
        throw new Error(`another answer for ${JSON.stringify(authorization)}: ${JSON.stringify(seen)}`)
      }
    }),
    { numRuns: RUNS * 2, includeErrorInReport: true },
  )
  t.pass(`${runs} generated headers: one 401, never a 5xx`)
  t.same(JSON.parse(reference?.body ?? '{}'), {
    statusCode: 401,
    code: 'UNAUTHORIZED',
    error: 'Unauthorized',
    message: 'A valid API key is required: send Authorization: Bearer <key>',
  })
  t.equal((await app.inject({ method: 'GET', url: '/cache/property' })).statusCode, 404, 'nothing was written')
  t.same((await app.inject({ method: 'GET', url: `/users/${user.id}` })).json(), user, 'the user is there, unchanged')
  t.equal((await app.inject({ method: 'GET', url: '/users?department=Hacked' })).json().total, 0, 'nobody was changed')
  const right = await app.inject({ ...writes[0], headers: { authorization: `Bearer ${KEYS[1]}` } })
  t.equal(right.statusCode, 201, 'and the right key still works')
})
