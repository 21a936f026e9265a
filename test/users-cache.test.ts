import t from 'tap'
import { build, type Server } from './helpers/app.ts'
import { createUser } from './helpers/users.ts'

async function read(app: Server, id: number) {
  const res = await app.inject({ method: 'GET', url: `/users/${id}` })
  return { status: res.statusCode, cache: res.headers['x-cache'], user: res.json() }
}

const SELECT_USER = 'SELECT row_to_json(users)::text AS user FROM users WHERE id = $1'

// One app for most tests: each works on users of its own.
const app = await build(t)

t.test('GET /users/:id: a miss reads Postgres and fills the cache, the next read is a hit', async (t) => {
  const user = await createUser(app, { full_name: 'Cached Person' })
  const first = await read(app, user.id)
  t.match(first, { status: 200, cache: 'miss', user })
  const second = await read(app, user.id)
  t.match(second, { status: 200, cache: 'hit' })
  t.same(second.user, first.user, 'the same JSON either way')

  const ttl = await app.redis.ttl(`users:${user.id}`)
  t.ok(ttl > 0 && ttl <= 30, `the entry expires within USERS_CACHE_TTL_SECONDS (30 s): ${ttl}`)
})

t.test('USERS_CACHE_TTL_SECONDS sets how long an entry lives', async (t) => {
  const shortLived = await build(t, { USERS_CACHE_TTL_SECONDS: '1' })
  const user = await createUser(shortLived)
  t.equal((await read(shortLived, user.id)).cache, 'miss')
  t.equal((await read(shortLived, user.id)).cache, 'hit')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await read(shortLived, user.id)).cache, 'miss', 'expired')
})

t.test('a read right after a write sees the write: PATCH and DELETE drop the cached entry', async (t) => {
  const user = await createUser(app, { department: 'Before' })
  await read(app, user.id)
  t.equal((await read(app, user.id)).cache, 'hit', 'cached')

  await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { department: 'After' } })
  const afterPatch = await read(app, user.id)
  t.match(afterPatch, { status: 200, cache: 'miss', user: { department: 'After' } })
  t.match(await read(app, user.id), { cache: 'hit', user: { department: 'After' } })

  t.equal((await app.inject({ method: 'DELETE', url: `/users/${user.id}` })).statusCode, 204)
  t.equal((await read(app, user.id)).status, 404, 'a deleted user is never served from the cache')
})

t.test('a missing user is not cached, so a user created later is readable at once', async (t) => {
  const absent = 2_000_000_000
  t.equal((await read(app, absent)).status, 404)
  t.equal(await app.redis.exists(`users:${absent}`), 0, 'no entry for a 404')

  const user = await createUser(app)
  t.match(await read(app, user.id), { status: 200, cache: 'miss', user })
})

t.test('the users cache is internal: GET /cache/users:1 cannot read it, POST /cache cannot overwrite it', async (t) => {
  const seed = await read(app, 1)
  t.match(seed, { status: 200, user: { id: 1, username: 'jsilva' } })
  t.ok(await app.redis.get('users:1'), "the entry exists, at users:1 under the service's prefix")

  for (const publicKey of ['users:1', 'users:1:version']) {
    const res = await app.inject({ method: 'GET', url: `/cache/${encodeURIComponent(publicKey)}` })
    t.equal(res.statusCode, 404, `GET /cache/${publicKey}`)
  }
  const write = await app.inject({
    method: 'POST',
    url: '/cache',
    payload: { key: 'users:1', value: { id: 1, username: 'forged' } },
  })
  t.equal(write.statusCode, 201)
  t.match(await read(app, 1), { cache: 'hit', user: { username: 'jsilva' } }, 'still the real user')
})

t.test('a read that raced a write cannot put the old row back into the cache', async (t) => {
  // The classic cache-aside race, forced: the read misses and loads the row from
  // Postgres; before it fills the cache, a write commits and invalidates; then
  // the read fills. Without protection the old row would be cached until the TTL.
  const interleavings = [
    {
      write: 'PATCH',
      request: (id: number) => ({ method: 'PATCH' as const, url: `/users/${id}`, payload: { full_name: 'New' } }),
    },
    { write: 'DELETE', request: (id: number) => ({ method: 'DELETE' as const, url: `/users/${id}` }) },
  ]
  for (const { write, request } of interleavings) {
    t.test(`a ${write} between the read's database read and its cache fill`, async (t) => {
      const user = await createUser(app, { full_name: 'Old' })

      // The read's own load from Postgres, with the write committed (and the
      // cache invalidated) after the row was read and before the read fills.
      const racing = await app.userCache.read(user.id, async () => {
        const { rows } = await app.db.query<{ user: string }>({ text: SELECT_USER, values: [user.id] })
        const status = (await app.inject(request(user.id))).statusCode
        t.ok([200, 204].includes(status), `the ${write} succeeds while the read waits`)
        return rows[0].user
      })
      t.match(
        { cache: racing?.cache, user: racing?.user },
        { cache: 'miss', user: { full_name: 'Old' } },
        'the racing read began first',
      )

      const after = await read(app, user.id)
      if (write === 'DELETE') t.equal(after.status, 404, 'the deleted user is not served')
      else t.match(after, { status: 200, user: { full_name: 'New' } }, 'the next read sees the write')
      t.not(after.cache, 'hit', 'the old row was not cached')
    })
  }
})

t.test("a version key evicted during a read's database read (Redis at its memory bound) drops the fill", async (t) => {
  // The user had never been written through this cache: no version key before
  // the read. Eviction takes the one the read noted; the write that happens
  // meanwhile stamps a new one, which eviction takes too. The read must not fill.
  const user = await createUser(app, { full_name: 'Old' })
  await app.redis.del(`users:${user.id}:version`)
  const racing = await app.userCache.read(user.id, async () => {
    const { rows } = await app.db.query<{ user: string }>({ text: SELECT_USER, values: [user.id] })
    await app.redis.del(`users:${user.id}:version`)
    await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { full_name: 'New' } })
    await app.redis.del(`users:${user.id}:version`)
    return rows[0].user
  })
  t.match(racing, { cache: 'miss', user: { full_name: 'Old' } }, 'the racing read began first')
  t.equal(await app.redis.exists(`users:${user.id}`), 0, 'the old row was not cached')
  t.match(await read(app, user.id), { status: 200, cache: 'miss', user: { full_name: 'New' } })
})

t.test('an entry that is not JSON is dropped, and the user read from Postgres', async (t) => {
  const user = await createUser(app, { full_name: 'Whole' })
  await app.redis.set(`users:${user.id}`, '{"id":', 'EX', 30)
  t.match(await read(app, user.id), { status: 200, cache: 'bypass', user: { full_name: 'Whole' } })
  t.match(await read(app, user.id), { status: 200, cache: 'miss' }, 'cached again, whole')
})

t.test('concurrent reads and writes of one user never leave a stale entry behind', async (t) => {
  const user = await createUser(app)
  for (let round = 0; round < 25; round++) {
    const full_name = `Version ${round}`
    const requests = [
      app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { full_name } }),
      ...Array.from({ length: 4 }, () => app.inject({ method: 'GET', url: `/users/${user.id}` })),
    ]
    const responses = await Promise.all(requests)
    t.same(
      responses.map((res) => res.statusCode),
      [200, 200, 200, 200, 200],
    )
    for (let i = 0; i < 2; i++) {
      t.equal((await read(app, user.id)).user.full_name, full_name, `round ${round}: the latest write`)
    }
  }
})
