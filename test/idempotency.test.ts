import { randomUUID } from 'node:crypto'
import type { InjectOptions } from 'fastify'
import t from 'tap'
import { build, type Server } from './helpers/app.ts'
import { idempotencyRecords, newKey, newPrefix, usersNamed } from './helpers/idempotency.ts'
import { uniqueUser } from './helpers/users.ts'

const prefix = newPrefix()
// One app for the file: every test uses keys and users of its own.
const app = await build(t, { REDIS_KEY_PREFIX: prefix })

function post(server: Server, url: string, payload: unknown, key?: string, headers: Record<string, string> = {}) {
  return server.inject({
    method: 'POST',
    url,
    payload: payload as InjectOptions['payload'],
    headers: key === undefined ? headers : { ...headers, 'idempotency-key': key },
  })
}

const IN_USE = {
  statusCode: 409,
  code: 'IDEMPOTENCY_KEY_IN_USE',
  error: 'Conflict',
  message: 'A request with this Idempotency-Key is still in progress: retry once it has completed',
}
const REUSED = {
  statusCode: 422,
  code: 'IDEMPOTENCY_KEY_REUSED',
  error: 'Unprocessable Entity',
  message: 'This Idempotency-Key was used for a different request: send a new key with a new request',
}

t.test('without Idempotency-Key nothing changes: each POST is a write, and no key is stored', async (t) => {
  const before = (await idempotencyRecords(app, prefix)).length
  const user = uniqueUser('plain')
  const first = await post(app, '/users', user)
  const second = await post(app, '/users', user)
  t.equal(first.statusCode, 201)
  t.equal(second.statusCode, 409, 'the second is a write too: the username is taken')
  t.equal(second.json().code, 'USERNAME_TAKEN')
  for (const res of [first, second]) t.notOk(res.headers['idempotent-replayed'], 'no replay header')

  const key = `plain-${randomUUID()}`
  t.equal((await post(app, '/cache', { key, value: 1 })).statusCode, 201)
  t.equal((await post(app, '/cache', { key, value: 2 })).statusCode, 201)
  t.equal((await app.inject({ method: 'GET', url: `/cache/${key}` })).json().value, 2, 'the second write landed')
  t.equal((await idempotencyRecords(app, prefix)).length, before, 'nothing stored in the idempotency namespace')
})

t.test('POST /users: a retry with the same key gets the same answer, replayed, and creates nothing', async (t) => {
  const key = newKey()
  const user = { ...uniqueUser('retry'), full_name: 'Nina Souza' }
  const first = await post(app, '/users', user, key)
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'], 'the first answer is not a replay')
  for (let retry = 1; retry <= 2; retry++) {
    const again = await post(app, '/users', user, key)
    t.equal(again.statusCode, 201, `retry ${retry}: the same status`)
    t.equal(again.headers.location, first.headers.location, `retry ${retry}: the same location`)
    t.equal(again.body, first.body, `retry ${retry}: the same body, byte for byte`)
    t.match(again.headers['content-type'], /^application\/json/)
    t.equal(again.headers['idempotent-replayed'], 'true', `retry ${retry}: marked as a replay`)
    t.ok(again.headers['x-request-id'], 'with its own request id')
  }
  t.equal(await usersNamed(user.username), 1, 'one row')
})

t.test('POST /cache: a replay runs nothing: a value written since stays', async (t) => {
  const key = newKey()
  const write = { key: `replayed-${randomUUID()}`, value: 'first', ttl: 300 }
  const first = await post(app, '/cache', write, key)
  t.equal(first.statusCode, 201)
  t.equal((await post(app, '/cache', { ...write, value: 'since' })).statusCode, 201, 'another write, without a key')

  const again = await post(app, '/cache', write, key)
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  const stored = await app.inject({ method: 'GET', url: `/cache/${write.key}` })
  t.equal(stored.json().value, 'since', 'the replay did not write the value again')
})

t.test('an error answer is an answer: the retry gets the same 409, even once the name is free', async (t) => {
  const owner = (await post(app, '/users', uniqueUser('owner'))).json()
  const key = newKey()
  const user = { username: owner.username, email: `${randomUUID()}@example.com` }
  const taken = await post(app, '/users', user, key)
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'USERNAME_TAKEN')
  t.equal((await app.inject({ method: 'DELETE', url: `/users/${owner.id}` })).statusCode, 204)

  const again = await post(app, '/users', user, key)
  t.equal(again.statusCode, 409, 'the stored answer')
  t.equal(again.body, taken.body)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(await usersNamed(user.username), 0, 'the retry created nothing')
  t.equal((await post(app, '/users', user, newKey())).statusCode, 201, 'a new key is a new request')
})

t.test('the same request spelt differently is the same request; the key quoted or bare is the same key', async (t) => {
  const bare = randomUUID()
  const name = `spelt-${randomUUID()}`
  const first = await post(app, '/cache', { key: name, value: { a: 1, b: [true, null] } }, `"${bare}"`)
  t.equal(first.statusCode, 201)
  const spellings = [
    '{"value":{"b":[true,null],"a":1},"key":"NAME"}',
    '{ "key" : "NAME",\n  "value": { "a": 1.0, "b": [ true, null ] } }',
    '{"key":"NAME","value":{"a":1,"b":[true,null]},"ttl":3600}',
  ]
  for (const spelling of spellings) {
    const payload = spelling.replace('NAME', name)
    for (const key of [`"${bare}"`, bare]) {
      const res = await app.inject({
        method: 'POST',
        url: '/cache',
        payload,
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
      })
      t.equal(res.headers['idempotent-replayed'], 'true', `${payload} with the key ${key}`)
      t.equal(res.body, first.body)
    }
  }
})

t.test('the same key with another request is a 422, and runs nothing', async (t) => {
  const key = newKey()
  const user = uniqueUser('first')
  t.equal((await post(app, '/users', user, key)).statusCode, 201)

  const other = uniqueUser('other')
  const cases: [string, string, unknown][] = [
    ['another body', '/users', other],
    ['one field more', '/users', { ...user, department: 'QA' }],
    ['another route', '/cache', { key: 'k', value: user }],
  ]
  for (const [name, url, payload] of cases) {
    const res = await post(app, url, payload, key)
    t.equal(res.statusCode, 422, name)
    t.same(res.json(), REUSED, `${name}: the usual error body`)
    t.notOk(res.headers['idempotent-replayed'], name)
  }
  t.equal(await usersNamed(other.username), 0, 'the other user was not created')
  t.equal((await app.inject({ method: 'GET', url: '/cache/k' })).statusCode, 404, 'nothing was cached')
  t.equal((await post(app, '/users', user, key)).headers['idempotent-replayed'], 'true', 'the key still replays')
})

t.test('a key that is not a valid one is a 400 that names the header, and runs nothing', async (t) => {
  const user = uniqueUser('badkey')
  const uuid = randomUUID()
  const invalid = [
    '"short"',
    `"${'k'.repeat(256)}"`,
    `"${uuid} "`,
    `"${uuid}`,
    `${uuid}"`,
    `'${uuid}'`,
    `"${uuid}é"`,
    `"${uuid}\\"x"`,
    `"${uuid}", "${randomUUID()}"`,
    '""',
  ]
  for (const key of invalid) {
    for (const url of ['/users', '/cache']) {
      const res = await post(app, url, url === '/users' ? user : { key: user.username, value: 1 }, key)
      t.equal(res.statusCode, 400, `${url} with ${key}`)
      t.match(
        res.json(),
        {
          statusCode: 400,
          code: 'FST_ERR_VALIDATION',
          error: 'Bad Request',
          message: /^headers\/idempotency-key must/,
        },
        `${url} with ${key}`,
      )
    }
  }
  t.equal(await usersNamed(user.username), 0, 'no user')
  t.equal((await app.inject({ method: 'GET', url: `/cache/${user.username}` })).statusCode, 404, 'no value')
  for (const key of [`"${'k'.repeat(16)}"`, `"${'k'.repeat(255)}"`, `"a-Z_0.9~+/=:${uuid}"`]) {
    t.equal((await post(app, '/cache', { key: uuid, value: key }, key)).statusCode, 201, `${key.length - 2} characters`)
  }
})

t.test('a key of two replicas: concurrent requests run the write once; the others wait or replay', async (t) => {
  const [one, two] = [app, await build(t, { REDIS_KEY_PREFIX: prefix })]
  const seen = { waited: 0, replayed: 0 }
  for (let round = 0; round < 10; round++) {
    const key = newKey()
    const user = uniqueUser('race')
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => post(i % 2 ? one : two, '/users', user, key)))
    const fresh = answers.filter((res) => res.statusCode === 201 && !res.headers['idempotent-replayed'])
    const replayed = answers.filter((res) => res.headers['idempotent-replayed'] === 'true')
    const waiting = answers.filter((res) => res.statusCode === 409)
    t.equal(fresh.length, 1, `round ${round}: one request ran the write`)
    t.equal(
      fresh.length + replayed.length + waiting.length,
      answers.length,
      `round ${round}: the others waited or replayed`,
    )
    for (const res of replayed) t.equal(res.body, fresh[0].body)
    for (const res of waiting) {
      t.same(res.json(), IN_USE)
      t.equal(res.headers['retry-after'], '1')
    }
    t.equal(await usersNamed(user.username), 1, `round ${round}: one row`)
    seen.waited += waiting.length
    seen.replayed += replayed.length
  }
  t.comment(`of the 50 requests that did not run the write, ${seen.waited} got 409, ${seen.replayed} a replay`)
  t.ok(seen.waited > 0, 'some arrived while the write was in flight')
})

t.test('with API keys, keys are per API key: one caller can neither replay nor block another’s', async (t) => {
  const [keyA, keyB] = ['caller-a-0123456789abcdef', 'caller-b-0123456789abcdef']
  const secured = await build(t, { API_KEYS: `${keyA},${keyB}` })
  const as = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` })
  const write = { key: `per-caller-${randomUUID()}`, value: 'a' }

  const key = newKey()
  t.equal((await post(secured, '/cache', write, key, as(keyA))).statusCode, 201)
  const sameRequest = await post(secured, '/cache', write, key, as(keyB))
  t.equal(sameRequest.statusCode, 201, 'B’s request with A’s key and body runs')
  t.notOk(sameRequest.headers['idempotent-replayed'], 'B does not get A’s answer')

  const other = newKey()
  t.equal((await post(secured, '/cache', write, other, as(keyA))).statusCode, 201)
  const otherRequest = await post(secured, '/cache', { ...write, value: 'b' }, other, as(keyB))
  t.equal(otherRequest.statusCode, 201, 'B’s other request with A’s key runs: not a 422')
  t.equal((await secured.inject({ method: 'GET', url: `/cache/${write.key}` })).json().value, 'b')

  const again = await post(secured, '/cache', write, key, { authorization: `bearer  ${keyA}` })
  t.equal(again.headers['idempotent-replayed'], 'true', 'A’s retry (its header spelt differently) replays')
  t.equal((await post(secured, '/cache', write, key)).statusCode, 401, 'no API key: a 401, nothing replayed')
})

t.test('the answer is kept 24 hours, under the service prefix, apart from the public cache', async (t) => {
  const field = newKey()
  const res = await post(app, '/cache', { key: 'kept', value: 1 }, field)
  const records = await idempotencyRecords(app, prefix)
  const record = records.find(({ key }) => key === `${prefix}idempotency:any:${field.slice(1, -1)}`)
  t.ok(record, 'one record, under <prefix>idempotency:')
  t.ok(record && record.ttlMs > 86_390_000 && record.ttlMs <= 86_400_000, `24 h to live (${record?.ttlMs} ms)`)
  t.match(JSON.parse(record?.value ?? '{}'), { status: 201, body: res.body, fingerprint: /^[\w-]{43}$/ })
  const throughCache = await app.inject({
    method: 'GET',
    url: `/cache/${encodeURIComponent(`../idempotency:any:${field}`)}`,
  })
  t.equal(throughCache.statusCode, 404, 'out of reach of GET /cache/:key')
})
