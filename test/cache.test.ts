import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MAX_KEY_LENGTH, MAX_TTL_SECONDS } from '../lib/schemas/cache.ts'
import { build, freePort } from './helpers/app.ts'
import { redisContainer } from './helpers/containers.ts'

t.test('POST /cache stores a value that GET /cache/:key returns with its ttl', async (t) => {
  const app = await build(t)
  const post = await app.inject({
    method: 'POST',
    url: '/cache',
    payload: { key: 'user:1', value: { name: 'João' }, ttl: 300 },
  })
  t.equal(post.statusCode, 201)
  t.same(post.json(), { message: 'Data cached successfully', key: 'user:1', ttl: 300 })

  const get = await app.inject({ method: 'GET', url: '/cache/user:1' })
  t.equal(get.statusCode, 200)
  const body = get.json()
  t.same(body.value, { name: 'João' })
  t.equal(body.key, 'user:1')
  t.ok(body.ttl > 295 && body.ttl <= 300, `ttl counts down from 300 (${body.ttl})`)
})

t.test('ttl defaults to 3600 seconds', async (t) => {
  const app = await build(t)
  const post = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } })
  t.equal(post.statusCode, 201)
  t.equal(post.json().ttl, 3600)
  const { ttl } = (await app.inject({ method: 'GET', url: '/cache/k' })).json()
  t.ok(ttl > 3590 && ttl <= 3600)
})

t.test('any JSON value round-trips unchanged', async (t) => {
  const app = await build(t)
  const values = [
    'text',
    42,
    3.14,
    true,
    false,
    null,
    [],
    [1, 'two', { three: 3 }],
    {},
    { nested: { deep: [null] } },
    '',
  ]
  for (const [i, value] of values.entries()) {
    const key = `value-${i}`
    t.equal((await app.inject({ method: 'POST', url: '/cache', payload: { key, value } })).statusCode, 201)
    const res = await app.inject({ method: 'GET', url: `/cache/${key}` })
    t.same(res.json().value, value, JSON.stringify(value))
  }
})

t.test('keys may hold any printable unicode, and come back through the URL', async (t) => {
  const app = await build(t)
  for (const key of ['ação:1', 'ключ', '键/with/slashes', 'emoji 😀 key', 'a'.repeat(MAX_KEY_LENGTH)]) {
    t.equal((await app.inject({ method: 'POST', url: '/cache', payload: { key, value: key } })).statusCode, 201)
    const res = await app.inject({ method: 'GET', url: `/cache/${encodeURIComponent(key)}` })
    t.equal(res.statusCode, 200, key)
    t.equal(res.json().value, key)
  }
})

t.test('a write replaces the value and the ttl', async (t) => {
  const app = await build(t)
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 'old', ttl: 1000 } })
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 'new', ttl: 10 } })
  const body = (await app.inject({ method: 'GET', url: '/cache/k' })).json()
  t.equal(body.value, 'new')
  t.ok(body.ttl <= 10)
})

t.test('a key expires after its ttl', async (t) => {
  const app = await build(t)
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'short', value: 1, ttl: 1 } })
  t.equal((await app.inject({ method: 'GET', url: '/cache/short' })).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await app.inject({ method: 'GET', url: '/cache/short' })).statusCode, 404)
})

t.test('GET /cache/:key of an absent key is a 404 with an error field', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/cache/absent' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), {
    statusCode: 404,
    code: 'CACHE_KEY_NOT_FOUND',
    error: 'Not Found',
    message: "Key 'absent' not found",
  })
})

t.test('invalid writes are 400 JSON errors that say what is wrong', async (t) => {
  const app = await build(t)
  const cases: [unknown, RegExp][] = [
    [{ value: 1 }, /required property 'key'/],
    [{ key: 'k' }, /required property 'value'/],
    [{}, /required property/],
    [{ key: '', value: 1 }, /body\/key must NOT have fewer than 1 characters/],
    [{ key: 'a'.repeat(MAX_KEY_LENGTH + 1), value: 1 }, /body\/key must NOT have more than 512 characters/],
    [{ key: 'bad\nkey', value: 1 }, /body\/key must match pattern/],
    [{ key: 'bad\u0000key', value: 1 }, /body\/key must match pattern/],
    [{ key: 'bad\u007fkey', value: 1 }, /body\/key must match pattern/],
    [{ key: 'k', value: 1, ttl: 0 }, /body\/ttl must be >= 1/],
    [{ key: 'k', value: 1, ttl: -1 }, /body\/ttl must be >= 1/],
    [{ key: 'k', value: 1, ttl: 1.5 }, /body\/ttl must be integer/],
    [{ key: 'k', value: 1, ttl: MAX_TTL_SECONDS + 1 }, /body\/ttl must be <= 2592000/],
    [{ key: 'k', value: 1, ttl: 'soon' }, /body\/ttl must be integer/],
    [{ key: { nested: true }, value: 1 }, /body\/key must be string/],
    [[1, 2], /body must be object/],
    ['just a string', /body must be object/],
  ]
  for (const [payload, message] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/cache',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, JSON.stringify(payload))
  }
})

t.test('an empty body is a 400 JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/cache', headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, error: 'Bad Request' })
})

t.test('a key with control characters is a 400 on GET too', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/cache/bad%0Akey' })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { message: /params\/key must match pattern/ })
})

t.test('public keys live in their own namespace: internal keys cannot be read or overwritten', async (t) => {
  const prefix = `ns-${randomUUID()}:`
  const app = await build(t, { REDIS_KEY_PREFIX: prefix })
  // An internal key of the service, and a raw key outside any namespace.
  await app.redis.set('users:1', 'internal')
  const raw = app.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true })
  t.teardown(() => raw.quit())
  await raw.set('outside', 'raw')

  for (const key of ['users:1', `${prefix}users:1`, 'outside', '../users:1']) {
    t.equal((await app.inject({ method: 'GET', url: `/cache/${encodeURIComponent(key)}` })).statusCode, 404, key)
  }
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'users:1', value: 'attack' } })
  t.equal(await app.redis.get('users:1'), 'internal', 'the internal key is untouched')
  t.equal(await raw.get(`${prefix}cache:users:1`), '"attack"', 'the write landed in the public namespace')
})

t.test('cache routes are 503 JSON errors, quickly, when Redis is unreachable', async (t) => {
  const port = await freePort()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  for (const request of [
    { method: 'GET' as const, url: '/cache/k' },
    { method: 'POST' as const, url: '/cache', payload: { key: 'k', value: 1 } },
  ]) {
    const started = Date.now()
    const res = await app.inject(request)
    t.ok(Date.now() - started < 2000, `${request.method} answers within 2 s`)
    t.equal(res.statusCode, 503)
    t.same(res.json(), {
      statusCode: 503,
      code: 'CACHE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'Cache unavailable, try again later',
    })
  }
})

t.test(
  'a value over CACHE_MAX_VALUE_BYTES (bytes of its JSON) is a 413 that says so; one that fits is stored',
  async (t) => {
    const app = await build(t, { CACHE_MAX_VALUE_BYTES: '1000' })
    // "x…x" is its length plus the two quotes; é is two bytes in UTF-8.
    for (const [value, status] of [
      ['x'.repeat(998), 201],
      ['x'.repeat(999), 413],
      ['é'.repeat(499), 201],
      ['é'.repeat(500), 413],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/cache', payload: { key: `size-${value.length}`, value } })
      t.equal(res.statusCode, status, `${Buffer.byteLength(JSON.stringify(value))} bytes`)
      if (status === 413) {
        t.match(res.json(), { statusCode: 413, code: 'CACHE_VALUE_TOO_LARGE', message: /more than the 1000/ })
      }
    }
    t.equal((await app.inject({ method: 'GET', url: '/cache/size-999' })).statusCode, 404, 'nothing stored')
  },
)

t.test('Redis at its memory bound with nothing to evict: a write is a 507 CACHE_FULL, reads go on', async (t) => {
  const full = await redisContainer()
    .withCommand(['redis-server', '--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'])
    .start()
  t.teardown(() => full.stop())
  const app = await build(t, { REDIS_URL: full.getConnectionUrl(), RATE_LIMIT_MAX: '0' })
  const value = 'x'.repeat(60_000)
  let written = 0
  let res = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'fill-0', value } })
  while (res.statusCode === 201 && written < 200) {
    written++
    res = await app.inject({ method: 'POST', url: '/cache', payload: { key: `fill-${written}`, value } })
  }
  t.equal(res.statusCode, 507, `after ${written} values of 60 kB`)
  t.match(res.json(), { statusCode: 507, code: 'CACHE_FULL', error: 'Insufficient Storage' })
  t.equal((await app.inject({ method: 'GET', url: '/cache/fill-0' })).statusCode, 200, 'what is stored is read')
  t.equal((await app.inject({ method: 'GET', url: '/users/1' })).statusCode, 200, 'the user cache only misses')
})
