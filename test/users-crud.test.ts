import { randomUUID } from 'node:crypto'
import t from 'tap'
import { build } from './helpers/app.ts'
import { createUser, uniqueUser } from './helpers/users.ts'

// One app for the file: every test works on users of its own, so they can share it.
const app = await build(t)

t.test('POST /users creates a user: 201, the row, and a Location that reads it back', async (t) => {
  const fields = { ...uniqueUser('nina'), full_name: 'Nina Souza', department: 'QA' }
  const res = await app.inject({ method: 'POST', url: '/users', payload: fields })
  t.equal(res.statusCode, 201)
  const user = res.json()
  t.match(user, { id: Number, ...fields })
  t.match(user.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/)
  t.same(Object.keys(user).sort(), ['created_at', 'department', 'email', 'full_name', 'id', 'username'])
  t.equal(res.headers.location, `/users/${user.id}`)

  const read = await app.inject({ method: 'GET', url: res.headers.location as string })
  t.equal(read.statusCode, 200)
  t.same(read.json(), user)
})

t.test('POST /users with only username and email leaves the optional fields null', async (t) => {
  const user = await createUser(app)
  t.equal(user.full_name, null)
  t.equal(user.department, null)
  const explicit = await createUser(app, { full_name: null, department: null })
  t.equal(explicit.full_name, null)
  t.equal(explicit.department, null)
})

t.test('usernames: unicode letters, digits, marks, `.`, `_`, `-`, 3 to 50 characters, stored as sent', async (t) => {
  const tag = randomUUID().slice(0, 6)
  for (const username of [
    `josé.${tag}`,
    `Zoë_${tag}`,
    `ещё-${tag}`,
    `李小龍${tag}`,
    `नमस्ते${tag}`,
    `9lives-${tag}`,
    `a${tag}`.slice(0, 3),
    `b${tag}`.padEnd(50, 'x'),
  ]) {
    const res = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username, email: `${randomUUID()}@example.com` },
    })
    t.equal(res.statusCode, 201, username)
    t.equal(res.json().username, username, 'the exact characters sent')
  }
})

t.test('fields at their maximum lengths are accepted', async (t) => {
  const tag = randomUUID().slice(0, 8)
  const fields = {
    username: `max${tag}`.padEnd(50, 'x'),
    email: `${tag}@${'e'.repeat(100 - tag.length - 1 - 4)}.com`,
    full_name: 'F'.repeat(100),
    department: 'D'.repeat(50),
  }
  t.equal(fields.email.length, 100)
  const res = await app.inject({ method: 'POST', url: '/users', payload: fields })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.json(), fields)
})

t.test('invalid users are 400 JSON errors that say which field is wrong', async (t) => {
  const valid = () => uniqueUser()
  const cases: [string, unknown, RegExp][] = [
    ['no username', { email: valid().email }, /body must have required property 'username'/],
    ['no email', { username: valid().username }, /body must have required property 'email'/],
    ['username too short', { ...valid(), username: 'ab' }, /body\/username must NOT have fewer than 3 characters/],
    ['username too long', { ...valid(), username: 'a'.repeat(51) }, /body\/username must NOT have more than 50/],
    ['username with a space', { ...valid(), username: 'joão silva' }, /body\/username must match pattern/],
    ['username with @', { ...valid(), username: 'joao@silva' }, /body\/username must match pattern/],
    ['username starting with a dot', { ...valid(), username: '.joao' }, /body\/username must match pattern/],
    ['username with an emoji', { ...valid(), username: 'joao😀' }, /body\/username must match pattern/],
    ['username not a string', { ...valid(), username: { a: 1 } }, /body\/username must be string/],
    [
      'username not in NFC',
      { ...valid(), username: 'jose\u0301x' },
      /username must be in Unicode normalization form C/,
    ],
    ['email without a domain', { ...valid(), email: 'joao@' }, /body\/email must match format "email"/],
    ['email without @', { ...valid(), email: 'joao.example.com' }, /body\/email must match format "email"/],
    ['email with a space', { ...valid(), email: ' a@example.com' }, /body\/email must match format "email"/],
    ['email too long', { ...valid(), email: `${'a'.repeat(90)}@example.com` }, /body\/email must NOT have more/],
    ['full_name too long', { ...valid(), full_name: 'F'.repeat(101) }, /body\/full_name must NOT have more than 100/],
    ['full_name empty', { ...valid(), full_name: '' }, /body\/full_name must NOT have fewer than 1/],
    ['full_name with a newline', { ...valid(), full_name: 'João\nSilva' }, /body\/full_name must match pattern/],
    ['full_name with a NUL', { ...valid(), full_name: 'João\u0000' }, /body\/full_name must match pattern/],
    ['full_name with a trailing space', { ...valid(), full_name: 'João ' }, /body\/full_name must match pattern/],
    ['department too long', { ...valid(), department: 'D'.repeat(51) }, /body\/department must NOT have more than 50/],
    ['department with a leading space', { ...valid(), department: ' QA' }, /body\/department must match pattern/],
    ['an unknown field', { ...valid(), fullname: 'typo' }, /body must NOT have additional properties/],
    ['an id', { ...valid(), id: 99 }, /body must NOT have additional properties/],
    ['not an object', ['jsilva'], /body must be object/],
  ]
  for (const [name, payload, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/users', payload: payload as object })
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, name)
  }
})

t.test('GET /users/:id of an absent user is a 404 JSON error', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/users/2147483647' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), {
    statusCode: 404,
    code: 'USER_NOT_FOUND',
    error: 'Not Found',
    message: 'User 2147483647 not found',
  })
})

t.test('an id that is not a positive 32-bit integer is a 400 on every user route', async (t) => {
  for (const id of ['abc', '0', '-1', '1.5', '2147483648', '1e3x', '1e309', '-1e309']) {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await app.inject({
        method,
        url: `/users/${id}`,
        payload: method === 'PATCH' ? { department: 'QA' } : undefined,
      })
      t.equal(res.statusCode, 400, `${method} /users/${id}`)
      t.match(res.json(), { statusCode: 400, message: /^params\/id must/ }, `${method} /users/${id}`)
    }
  }
})

t.test('PATCH /users/:id changes only the fields given; null clears an optional field', async (t) => {
  const user = await createUser(app, { full_name: 'Old Name', department: 'QA' })

  const renamed = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { full_name: 'New Name' } })
  t.equal(renamed.statusCode, 200)
  t.same(renamed.json(), { ...user, full_name: 'New Name' })

  const cleared = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { department: null } })
  t.same(cleared.json(), { ...user, full_name: 'New Name', department: null })

  const fresh = uniqueUser('moved')
  const moved = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: fresh })
  t.same(moved.json(), { ...user, ...fresh, full_name: 'New Name', department: null })

  t.same((await app.inject({ method: 'GET', url: `/users/${user.id}` })).json(), moved.json(), 'reads the update')
})

t.test('PATCH may keep a user’s own username or email, or change only their letter case', async (t) => {
  const user = await createUser(app)
  for (const changes of [
    { username: user.username, email: user.email },
    { username: user.username.toUpperCase() },
    { email: user.email.toUpperCase() },
  ]) {
    const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: changes })
    t.equal(res.statusCode, 200, JSON.stringify(changes))
    t.match(res.json(), changes)
  }
})

t.test('PATCH validates like POST, needs at least one field, and is a 404 for an absent user', async (t) => {
  const user = await createUser(app)
  const cases: [unknown, RegExp][] = [
    [{}, /body must NOT have fewer than 1 properties/],
    [{ username: 'x' }, /body\/username must NOT have fewer than 3/],
    [{ username: null }, /body\/username must be string/],
    [{ email: 'nope' }, /body\/email must match format "email"/],
    [{ email: null }, /body\/email must be string/],
    [{ id: 5 }, /body must NOT have additional properties/],
    [{ created_at: '2020-01-01T00:00:00' }, /body must NOT have additional properties/],
    [{ department: 'D'.repeat(51) }, /body\/department must NOT have more than 50/],
    [{ username: 'jose\u0301x' }, /username must be in Unicode normalization form C/],
  ]
  for (const [payload, message] of cases) {
    const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: payload as object })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json(), { statusCode: 400, message }, JSON.stringify(payload))
  }
  const absent = await app.inject({ method: 'PATCH', url: '/users/2147483647', payload: { department: 'QA' } })
  t.equal(absent.statusCode, 404)
  t.equal(absent.json().code, 'USER_NOT_FOUND')
})

t.test('DELETE /users/:id is a 204 with no body; the user is gone; a second DELETE is a 404', async (t) => {
  const user = await createUser(app)
  t.equal((await app.inject({ method: 'GET', url: `/users/${user.id}` })).statusCode, 200)

  const res = await app.inject({ method: 'DELETE', url: `/users/${user.id}` })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')

  t.equal((await app.inject({ method: 'GET', url: `/users/${user.id}` })).statusCode, 404)
  const again = await app.inject({ method: 'DELETE', url: `/users/${user.id}` })
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'USER_NOT_FOUND')
  t.equal(
    (await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { department: 'QA' } })).statusCode,
    404,
  )

  const reused = await app.inject({
    method: 'POST',
    url: '/users',
    payload: { username: user.username, email: user.email },
  })
  t.equal(reused.statusCode, 201, 'its username and email are free again')
})
