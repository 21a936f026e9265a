import { setImmediate as nextTurn } from 'node:timers/promises'
import t from 'tap'
import { oncePerTurn } from '../lib/once-per-turn.ts'
import { serializedOnce } from '../lib/serialized-once.ts'
import { build } from './helpers/app.ts'
import { createUser } from './helpers/users.ts'

t.test('calls made in one turn of the event loop share one load per distinct key', async (t) => {
  const started: string[] = []
  const load = oncePerTurn(async (key) => {
    started.push(key)
    return `value of ${key}`
  })
  const values = await Promise.all([load('a'), load('b'), load('a'), load('a')])
  t.same(values, ['value of a', 'value of b', 'value of a', 'value of a'])
  t.same(started.sort(), ['a', 'b'], 'one load for a, one for b')

  await nextTurn()
  await load('a')
  t.same(started.sort(), ['a', 'a', 'b'], 'a later turn loads again: nothing is cached')
})

t.test('a load starts only after every call it answers was made; a failure reaches each caller', async (t) => {
  let loads = 0
  const load = oncePerTurn(async () => {
    loads++
    throw new Error('down')
  })
  const first = load('k')
  t.equal(loads, 0, 'not started while the turn goes on')
  const second = load('k')
  await t.rejects(first, /down/)
  await t.rejects(second, /down/)
  t.equal(loads, 1)
})

t.test('GET /users asked for together share a statement, and each sees the writes made before it', async (t) => {
  const app = await build(t)
  const department = `Turn ${Date.now()}`
  const pages = await Promise.all(
    Array.from({ length: 10 }, () =>
      app.inject({ method: 'GET', url: `/users?department=${encodeURIComponent(department)}` }),
    ),
  )
  t.same(
    pages.map((res) => res.json().total),
    Array(10).fill(0),
  )
  await createUser(app, { department })
  const after = await app.inject({ method: 'GET', url: `/users?department=${encodeURIComponent(department)}` })
  t.equal(after.json().total, 1, 'the user created just before is listed')
})

t.test('serializedOnce serializes an object once, whoever sends it', async (t) => {
  let serializations = 0
  const serialize = (value: object) => {
    serializations++
    return JSON.stringify(value)
  }
  const page = { total: 1, users: [{ id: 1 }] }
  t.equal(serializedOnce(page, serialize), '{"total":1,"users":[{"id":1}]}')
  t.equal(serializedOnce(page, serialize), '{"total":1,"users":[{"id":1}]}')
  t.equal(serializations, 1, 'the same object: one serialization')
  serializedOnce({ ...page }, serialize)
  t.equal(serializations, 2, 'another object: its own')
})
