import fc from 'fast-check'
import t from 'tap'
import { MAX_JSON_DEPTH } from '../plugins/app/json-depth.ts'
import { build, type Server } from './helper.ts'

// Property-based tests over every route the OpenAPI document lists: whatever
// the params, querystring, body and content type, the answer is never a 5xx,
// an error is always JSON with a message, nothing is polluted, and the
// process keeps serving.

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150)

interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'
  path: string
  queryNames: string[]
}

async function operations(app: Server): Promise<Operation[]> {
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  return Object.entries<Record<string, { parameters?: { name: string; in: string }[] }>>(document.paths).flatMap(
    ([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase() as Operation['method'],
        path,
        queryNames: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      })),
  )
}

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

/** Bodies: well-formed objects near the real schemas, arbitrary JSON, and broken text. */
function bodies() {
  return fc.oneof(
    fc
      .record(
        {
          key: fc.oneof(anyText, anyJson),
          value: anyJson,
          ttl: fc.oneof(fc.integer(), fc.double(), anyText, anyJson),
          username: fc.oneof(anyText, anyJson),
          email: fc.oneof(anyText, anyJson),
          full_name: fc.oneof(anyText, anyJson),
          department: fc.oneof(anyText, anyJson),
        },
        { requiredKeys: [] },
      )
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
    query: fc.dictionary(fc.oneof(fc.constantFrom(...operation.queryNames, 'x'), anyText), anyText, { maxKeys: 4 }),
    body: fc.option(bodies(), { nil: undefined }),
    contentType: contentTypes,
  })
}

let seen = 0

t.test('no input makes any route answer a 5xx, and errors are JSON with a message', async (t) => {
  // No rate limit: every generated request must reach its route.
  const app = await build(t, { RATE_LIMIT_MAX: '0' })
  const routes = await operations(app)
  t.ok(routes.length >= 5, `${routes.length} operations under test`)

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
