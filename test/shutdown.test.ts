import { once } from 'node:events'
import http from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import t, { type Test } from 'tap'
import { build } from './helpers/app.ts'
import { startServer } from './helpers/server-process.ts'

// SIGTERM to the real server process while a load generator keeps sending
// requests: every request it accepted is answered, then new connections are
// refused, the pool and the Redis client close, and the process exits 0.

const WORKERS = 16

type Outcome = { kind: 'answered'; status: number } | { kind: 'refused' } | { kind: 'lost'; code: string }

interface Tally {
  sent: number
  answered: Map<number, number>
  refused: number
  lost: string[]
  retriedOnReusedSocket: number
}

const REQUESTS = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/users' },
  { method: 'GET', path: '/cache/shutdown' },
  { method: 'POST', path: '/cache', body: JSON.stringify({ key: 'shutdown', value: { n: 1 }, ttl: 60 }) },
]

function send(agent: http.Agent, port: number, request: (typeof REQUESTS)[number], tally: Tally): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.path,
        headers: request.body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve({ kind: 'answered', status: res.statusCode ?? 0 }))
        res.on('error', (err) => resolve({ kind: 'lost', code: (err as NodeJS.ErrnoException).code ?? err.message }))
      },
    )
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return resolve({ kind: 'refused' })
      // A keep-alive socket the server closed as idle just as this request was
      // written: the server never read it. Node's documentation says to retry.
      if (req.reusedSocket && err.code === 'ECONNRESET') {
        tally.retriedOnReusedSocket++
        return resolve(send(agent, port, request, tally))
      }
      resolve({ kind: 'lost', code: err.code ?? err.message })
    })
    req.end(request.body)
  })
}

t.test('SIGTERM under load: nothing accepted is lost, then connections are refused, exit 0', async (t) => {
  const { process: server, port, output } = await startServer(t, { RATE_LIMIT_MAX: '0' })

  const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS })
  t.teardown(() => agent.destroy())
  const tally: Tally = { sent: 0, answered: new Map(), refused: 0, lost: [], retriedOnReusedSocket: 0 }
  let signalled = false

  // Each worker loops until, after the signal, its connection is refused.
  const workers = Array.from({ length: WORKERS }, async (_, worker) => {
    for (let i = worker; ; i++) {
      tally.sent++
      const outcome = await send(agent, port, REQUESTS[i % REQUESTS.length], tally)
      if (outcome.kind === 'answered') {
        tally.answered.set(outcome.status, (tally.answered.get(outcome.status) ?? 0) + 1)
      } else if (outcome.kind === 'refused') {
        tally.refused++
        if (signalled) return
      } else {
        tally.lost.push(outcome.code)
      }
    }
  })

  const answeredSoFar = () => [...tally.answered.values()].reduce((a, b) => a + b, 0)
  // Signal once the load is well under way (a loaded CI machine needs longer).
  for (const until = Date.now() + 15_000; answeredSoFar() < 500 && Date.now() < until; ) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const answeredBefore = answeredSoFar()
  const signalledAt = Date.now()
  signalled = true
  server.kill('SIGTERM')
  const [[code], ,] = await Promise.all([once(server, 'exit'), Promise.all(workers)])
  const exitMs = Date.now() - signalledAt

  const answered = answeredSoFar()
  t.comment(
    `sent ${tally.sent}: answered ${answered} (${[...tally.answered].map(([s, n]) => `${n}×${s}`).join(', ')}), ` +
      `refused ${tally.refused}, lost ${tally.lost.length}; ${tally.retriedOnReusedSocket} retried after an idle socket closed; exit after ${exitMs} ms`,
  )
  t.ok(answeredBefore >= 100, `load was running (${answeredBefore} answers before SIGTERM)`)
  t.same(tally.lost, [], 'no request was lost')
  t.equal(tally.sent, answered + tally.refused, 'every request was answered or its connection refused')
  t.same(
    [...tally.answered.keys()].filter((status) => ![200, 201, 404, 503].includes(status)),
    [],
    'only the expected statuses (503 while closing)',
  )
  t.equal(code, 0, 'exit code 0')
  t.ok(exitMs < 8000, `within the shutdown deadline (${exitMs} ms)`)
  t.match(output(), /"signal":"SIGTERM".*"msg":"closing"/)
  t.match(output(), /"msg":"database pool closed"/)
  t.match(output(), /"msg":"redis connection closed"/)
  await t.rejects(fetch(`http://127.0.0.1:${port}/`), 'nothing listens afterwards')
})

/** The app listening on a free port, and a raw client connected to it. */
async function listeningWithClient(t: Test) {
  const app = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const client = rawConnection(port)
  await client.connected
  return { app, port, client }
}

/** A raw HTTP/1.1 client on one connection: what the server sends back, and how the connection ended. */
function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk) => {
    received += chunk
  })
  const ended = new Promise<string>((resolve) => {
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    socket.on('close', () => resolve('closed'))
  })
  return {
    connected: once(socket, 'connect'),
    get: (path: string) => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`),
    send: (raw: string) => socket.write(raw),
    received: () => received,
    ended,
  }
}

t.test('a connection that has not sent its request when closing starts still gets it answered', async (t) => {
  const { app, client } = await listeningWithClient(t)
  await new Promise((resolve) => setTimeout(resolve, 50)) // accepted by the server, nothing sent yet
  const closed = app.close()
  while (app.server.listening) await new Promise((resolve) => setImmediate(resolve))
  // The listener is closed: the request is sent only now.
  client.get('/health/live')
  t.equal(await client.ended, 'closed', 'the server ended the connection cleanly (no reset)')
  t.match(client.received(), /^HTTP\/1\.1 200 OK\r\n/, 'the request was answered')
  t.match(client.received(), /\r\nconnection: close\r\n/i, 'with Connection: close')
  await closed
})

t.test('a request in flight when closing starts is answered, with Connection: close', async (t) => {
  const { app, client } = await listeningWithClient(t)
  const body = JSON.stringify({ key: 'in-flight', value: { n: 1 }, ttl: 60 })
  // The headers and part of the body: the request is in flight, its answer not yet due.
  client.send(
    `POST /cache HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  )
  await new Promise((resolve) => setTimeout(resolve, 100))
  const closed = app.close()
  while (app.server.listening) await new Promise((resolve) => setImmediate(resolve))
  client.send(body.slice(5))
  t.equal(await client.ended, 'closed', 'the server ended the connection cleanly (no reset)')
  t.match(client.received(), /^HTTP\/1\.1 201 Created\r\n/, 'the request was answered')
  t.match(client.received(), /\r\nconnection: close\r\n/i, 'with Connection: close')
  await closed
})

t.test('an idle keep-alive connection is closed soon after closing starts; new ones are refused at once', async (t) => {
  const { app, port, client } = await listeningWithClient(t)
  client.get('/health/live')
  while (!client.received().includes('"ok"')) await new Promise((resolve) => setTimeout(resolve, 10))
  const startedAt = Date.now()
  const closed = app.close()
  await new Promise((resolve) => setImmediate(resolve))
  const refused = await new Promise<string>((resolve) => {
    const probe = connect(port, '127.0.0.1')
    probe.on('connect', () => resolve('connected'))
    probe.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
  t.equal(refused, 'ECONNREFUSED', 'the listener closes first')
  t.equal(await client.ended, 'closed', 'the idle connection is closed, not reset')
  await closed
  const ms = Date.now() - startedAt
  t.ok(ms < 1000, `close() returned after ${ms} ms`)
})

t.test('a connection that never sends a request does not hold the close open', async (t) => {
  const { app, client } = await listeningWithClient(t)
  const startedAt = Date.now()
  await app.close()
  const ms = Date.now() - startedAt
  t.ok(ms < 1500, `close() returned after ${ms} ms, not at the process deadline`)
  t.equal(await client.ended, 'closed')
  t.equal(client.received(), '', 'nothing was sent to it')
})
