import { randomUUID } from 'node:crypto'
import t from 'tap'
import { build } from './helpers/app.ts'
import { createUser, uniqueUser } from './helpers/users.ts'

// The original init.sql's usernames (the second ends in three Cyrillic letters).
const SEED_USERNAMES = [
  'jsilva',
  'mco\u0441\u0442\u0430',
  'psantos',
  'aolive',
  'rlima',
  'cferr',
  'lmartins',
  'jrodrig',
  'falves',
  'bcarvalho',
]

// One app for the file: every test works on users of its own, so they can share it.
const app = await build(t)

t.test('every seed username is valid: posting one again is a 409, not a 400', async (t) => {
  for (const username of SEED_USERNAMES) {
    const res = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username, email: `${randomUUID()}@example.com` },
    })
    t.equal(res.statusCode, 409, username)
    t.equal(res.json().code, 'USERNAME_TAKEN', username)
  }
})

t.test('a taken username or email is a 409 that names the field, ignoring letter case', async (t) => {
  const taken = await createUser(app)
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ username: taken.username }, 'USERNAME_TAKEN', /^username '.+' is already taken$/],
    [{ username: taken.username.toUpperCase() }, 'USERNAME_TAKEN', /^username '.+' is already taken$/],
    [{ username: 'MCO\u0421\u0422\u0410' }, 'USERNAME_TAKEN', /^username 'MCOСТА' is already taken$/],
    [{ email: taken.email }, 'EMAIL_TAKEN', /^email '.+' is already taken$/],
    [{ email: taken.email.toUpperCase() }, 'EMAIL_TAKEN', /^email '.+' is already taken$/],
    [{ email: 'Joao.Silva@Empresa.com' }, 'EMAIL_TAKEN', /^email 'Joao.Silva@Empresa.com' is already taken$/],
  ]
  for (const [fields, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/users', payload: { ...uniqueUser(), ...fields } })
    t.equal(res.statusCode, 409, JSON.stringify(fields))
    t.same(res.json(), { statusCode: 409, code, error: 'Conflict', message: res.json().message })
    t.match(res.json().message, message)
  }
})

t.test('two concurrent POSTs with the same username: one 201, one 409, never a 5xx', async (t) => {
  for (let round = 0; round < 20; round++) {
    const { username } = uniqueUser('race')
    const responses = await Promise.all(
      [1, 2].map(() =>
        app.inject({
          method: 'POST',
          url: '/users',
          payload: { username, email: `${randomUUID()}@example.com` },
        }),
      ),
    )
    const statuses = responses.map((res) => res.statusCode).sort()
    t.same(statuses, [201, 409], `round ${round}: ${responses.map((res) => res.body).join(' ')}`)
    t.equal(responses.find((res) => res.statusCode === 409)?.json().code, 'USERNAME_TAKEN')
  }
})

t.test('two concurrent POSTs with the same email (in different case): one 201, one 409 naming email', async (t) => {
  for (let round = 0; round < 10; round++) {
    const { email } = uniqueUser('race')
    const responses = await Promise.all(
      [email, email.toUpperCase()].map((address) =>
        app.inject({ method: 'POST', url: '/users', payload: { username: uniqueUser().username, email: address } }),
      ),
    )
    t.same(responses.map((res) => res.statusCode).sort(), [201, 409], `round ${round}`)
    t.equal(responses.find((res) => res.statusCode === 409)?.json().code, 'EMAIL_TAKEN')
  }
})

t.test('PATCH to another user’s username or email is a 409 naming the field, and changes nothing', async (t) => {
  const [user, other] = [await createUser(app), await createUser(app)]
  for (const [changes, code] of [
    [{ username: other.username }, 'USERNAME_TAKEN'],
    [{ email: other.email.toUpperCase(), full_name: 'Not Applied' }, 'EMAIL_TAKEN'],
  ] as const) {
    const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: changes })
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, code)
  }
  t.same((await app.inject({ method: 'GET', url: `/users/${user.id}` })).json(), user)
})
