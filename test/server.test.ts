import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { stripVTControlCharacters } from 'node:util'
import t, { type Test } from 'tap'
import { eventually } from './helpers/eventually.ts'
import { type RunningServer, SCRIPT, startServer } from './helpers/server-process.ts'

// Each test starts a server process of its own (own port, own key prefix) and
// spends most of its time waiting for it: three at a time.
t.jobs = 3

/**
 * GET /health with the request id `requestId`, again until it is 200: a process
 * just started may still be connecting or migrating, and says so with a 503.
 */
async function healthyAnswer(t: Test, server: RunningServer, requestId: string) {
  let report: { status?: string; services?: unknown } = {}
  const tookMs = await eventually(async () => {
    const res = await fetch(`${server.baseUrl}/health`, { headers: { 'x-request-id': requestId } })
    report = (await res.json()) as typeof report
    if (res.status !== 200) throw new Error(`GET /health: ${res.status} ${JSON.stringify(report)}`)
  }, 10_000)
  t.equal(report.status, 'healthy', `GET /health 200 healthy, ${tookMs} ms after the process listened`)
}

t.test('the server process serves HTTP and logs JSON lines', async (t) => {
  const server = await startServer(t)
  await healthyAnswer(t, server, 'json-log-1')
  server.process.kill('SIGTERM')
  await once(server.process, 'exit')
  const lines = server.output().trim().split('\n')
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), `a JSON log line: ${line.slice(0, 80)}`)
  t.match(server.output(), /"requestId":"json-log-1".*"msg":"request completed"/)
})

t.test(
  'on a terminal the log is pretty-printed instead',
  { skip: existsSync(SCRIPT) ? false : `needs ${SCRIPT} (util-linux) for a pseudo-terminal` },
  async (t) => {
    const server = await startServer(t, {}, { terminal: true })
    // Not /health/live: it has no request line.
    await healthyAnswer(t, server, 'pretty-log-1')
    const completed = /INFO: request completed\r?\n\s+requestId: "pretty-log-1"/
    await eventually(async () => {
      if (!completed.test(stripVTControlCharacters(server.output()))) throw new Error('not logged yet')
    }, 5000)
    server.process.kill('SIGTERM')
    await once(server.process, 'exit')
    const output = stripVTControlCharacters(server.output())
    t.match(output, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+\r?$/m)
    t.match(output, completed)
    t.notMatch(output, /^\{"level"/m, 'no JSON line')
  },
)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} closes the server, the pool and the Redis client, and exits 0`, async (t) => {
    const server = await startServer(t)
    t.equal((await fetch(`${server.baseUrl}/users`)).status, 200, 'the pool has a connection open')
    const started = Date.now()
    server.process.kill(signal)
    const [code] = await once(server.process, 'exit')
    t.equal(code, 0)
    t.ok(Date.now() - started < 3000, `exits promptly (${Date.now() - started} ms)`)
    t.match(server.output(), new RegExp(`"signal":"${signal}".*"msg":"closing"`))
    await t.rejects(fetch(`${server.baseUrl}/`), 'no longer accepts connections')
  })
}

t.test('a request in flight when SIGTERM arrives still gets its answer', async (t) => {
  // A hung Postgres would keep /health waiting ~1 s: the signal lands meanwhile.
  const { createServer } = await import('node:net')
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => silent.close())
  const { port } = silent.address() as { port: number }
  const server = await startServer(t, {
    DATABASE_URL: `postgres://x:y@127.0.0.1:${port}/z`,
    // Longer than the 1 s health check, so the check's own timeout is what answers.
    DB_CONNECT_TIMEOUT_MS: '3000',
    MIGRATE_ON_START: 'false',
  })
  const inFlight = fetch(`${server.baseUrl}/health`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  server.process.kill('SIGTERM')
  const res = await inFlight
  t.equal(res.status, 503, 'answered, not dropped')
  t.equal(((await res.json()) as { services: { db: { error: string } } }).services.db.error, 'no answer within 1000 ms')
  const [code] = await once(server.process, 'exit')
  t.equal(code, 0)
})
