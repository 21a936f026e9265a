import { randomUUID } from 'node:crypto'
import t from 'tap'
import { services, withClient } from './helpers/app.ts'
import { newPrefix } from './helpers/idempotency.ts'
import { type RunningServer, startServer } from './helpers/server-process.ts'

// Two replicas (server processes on one Postgres and one Redis) under a POST
// /users load with Idempotency-Keys; one is killed (SIGKILL) in the middle. The
// client retries every POST that got no answer on the other replica, with the
// same key, until it gets one: each POST then has exactly one row, and its
// client gets the 201 for it, also when the replica died between the insert
// and keeping the answer.

const LOAD_MS = 2500
const KILL_AT_MS = 1000
const CLIENTS = 16
const RETRY_FOR_MS = 20_000

interface Attempt {
  status: number
  code?: string
  body: string
  replayed: boolean
  retryAfterS?: number
}

async function postUser(server: RunningServer, user: object, key: string): Promise<Attempt | undefined> {
  try {
    const res = await fetch(`${server.baseUrl}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(user),
      signal: AbortSignal.timeout(5000),
    })
    const body = await res.text()
    const code = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(body).code : undefined
    const retryAfter = res.headers.get('retry-after')
    return {
      status: res.status,
      code,
      body,
      replayed: res.headers.get('idempotent-replayed') === 'true',
      retryAfterS: retryAfter === null ? undefined : Number(retryAfter),
    }
  } catch {
    return undefined // no answer: the connection was reset or refused, or the answer was late
  }
}

/** An answer the client keeps: any status below 500, but the 409 that says the key's request still runs. */
const isAnswer = (attempt: Attempt | undefined): attempt is Attempt =>
  attempt !== undefined && attempt.status < 500 && attempt.code !== 'IDEMPOTENCY_KEY_IN_USE'

t.test('a replica killed under POST load: every POST retried with its key ends with one row', async (t) => {
  const env = {
    REDIS_KEY_PREFIX: newPrefix(),
    // The leases of the killed replica's claims end 3 s + 1 s after they were made.
    HTTP_HANDLER_TIMEOUT_MS: '3000',
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    RATE_LIMIT_MAX: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  }
  const [victim, survivor] = await Promise.all([startServer(t, env), startServer(t, env)])
  const tag = randomUUID().slice(0, 8)
  interface Post {
    username: string
    attempts: (Attempt | undefined)[]
    final?: Attempt
  }
  const posts: Post[] = []

  async function client() {
    for (const started = Date.now(); Date.now() - started < LOAD_MS; ) {
      const post: Post = { username: `kill_${tag}_${posts.length}`, attempts: [] }
      posts.push(post)
      const user = { username: post.username, email: `${post.username}@example.com` }
      const key = `"${randomUUID()}"`
      let attempt = await postUser(posts.length % 2 ? victim : survivor, user, key)
      post.attempts.push(attempt)
      for (const retryFrom = Date.now(); !isAnswer(attempt) && Date.now() - retryFrom < RETRY_FOR_MS; ) {
        await new Promise((resolve) => setTimeout(resolve, (attempt?.retryAfterS ?? 0.2) * 1000))
        attempt = await postUser(survivor, user, key)
        post.attempts.push(attempt)
      }
      if (isAnswer(attempt)) post.final = attempt
    }
  }
  const kill = new Promise((resolve) => setTimeout(resolve, KILL_AT_MS)).then(() => victim.process.kill('SIGKILL'))
  await Promise.all([kill, ...Array.from({ length: CLIENTS }, client)])

  const { databaseUrl } = await services()
  const rows = await withClient(databaseUrl, async (db) => {
    const { rows } = await db.query('SELECT username, id FROM users WHERE username LIKE $1', [`kill_${tag}_%`])
    return new Map(rows.map((row) => [row.username as string, row.id as number]))
  })

  const retried = posts.filter((post) => post.attempts.length > 1)
  const waited = posts.filter((post) => post.attempts.some((attempt) => attempt?.code === 'IDEMPOTENCY_KEY_IN_USE'))
  const lost = posts.filter((post) => !post.final)
  const finals = posts.filter((post) => post.final).map(({ final }) => final as Attempt)
  const fresh = finals.filter((final) => final.status === 201 && !final.replayed).length
  const replayed = finals.filter((final) => final.status === 201 && final.replayed).length
  const taken = finals.filter((final) => final.code === 'USERNAME_TAKEN').length
  t.comment(
    `${posts.length} POSTs, ${retried.length} retried (${retried.flatMap((p) => p.attempts).length} attempts), ` +
      `${waited.length} of them on a claim of the killed replica; ` +
      `final answers: ${fresh} 201, ${replayed} 201 replayed, ${taken} 409 USERNAME_TAKEN`,
  )
  t.ok(retried.length > 0, 'the kill left POSTs without an answer')
  t.same(
    lost.map(({ username }) => username),
    [],
    'every POST got an answer',
  )
  t.equal(fresh + replayed, posts.length, 'each a 201, fresh or replayed: none told its own write is a conflict')
  t.same(
    posts.filter(({ username }) => !rows.has(username)).map(({ username }) => username),
    [],
    'every POST has its row: none lost',
  )
  t.equal(rows.size, posts.length, 'and no other row')
  const wrongIds = posts.filter(
    ({ username, final }) => final?.status === 201 && JSON.parse(final.body).id !== rows.get(username),
  )
  t.same(wrongIds, [], 'every 201, replayed or not, carries the id of the row')
})
