import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { build, services, tcpProxy } from './helpers/app.ts'
import { eventually } from './helpers/eventually.ts'

// Slow and idle clients cannot hold the server's sockets.

async function listening(t: Test, env: Record<string, string>) {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

/** Opens a raw socket; resolves with what the server sent and when it closed the connection. */
function rawClient(
  port: number,
  drive: (socket: Socket) => NodeJS.Timeout | undefined,
): Promise<{ received: string; closedAfterMs: number }> {
  let dripping: NodeJS.Timeout | undefined
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1', () => {
      dripping = drive(socket)
    })
    let received = ''
    socket.on('data', (chunk) => {
      received += chunk
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server answered and closed while the client was still writing: a
      // write after the close fails (EPIPE, ECONNRESET), and 'close' follows.
      if (received && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) return
      reject(err)
    })
    socket.on('close', () => resolve({ received, closedAfterMs: Date.now() - started }))
    socket.on('close', () => clearInterval(dripping))
    setTimeout(() => socket.destroy(new Error('the server never closed the connection')), 15_000).unref()
  })
}

t.test('a client that never finishes its headers gets a 408 and is disconnected', async (t) => {
  const port = await listening(t, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '3000' })
  const { received, closedAfterMs } = await rawClient(port, (socket) => {
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n')
    return setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200)
  })
  t.match(received, /^HTTP\/1\.1 408 Request Timeout/)
  t.ok(closedAfterMs >= 900 && closedAfterMs < 3000, `closed after ${closedAfterMs} ms`)
})

t.test('a client that sends its body too slowly gets a 408 and is disconnected', async (t) => {
  const port = await listening(t, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' })
  const { received, closedAfterMs } = await rawClient(port, (socket) => {
    socket.write(
      'POST /cache HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    )
    return setInterval(() => socket.writable && socket.write(' '), 200)
  })
  t.match(received, /^HTTP\/1\.1 408 Request Timeout/)
  t.ok(closedAfterMs >= 1900 && closedAfterMs < 4000, `closed after ${closedAfterMs} ms`)
})

t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  const port = await listening(t, { HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' })
  const { received, closedAfterMs } = await rawClient(port, (socket) => {
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n')
  })
  t.match(received, /^HTTP\/1\.1 200 OK/)
  t.match(received, /Keep-Alive: timeout=1/i)
  t.ok(closedAfterMs >= 900 && closedAfterMs < 3000, `closed after ${closedAfterMs} ms`)
})

t.test('a connection that sends nothing at all is closed after the headers timeout', async (t) => {
  const port = await listening(t, { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '3000' })
  const { closedAfterMs } = await rawClient(port, () => {})
  t.ok(closedAfterMs < 4000, `closed after ${closedAfterMs} ms`)
})

t.test('a handler that waits longer than HTTP_HANDLER_TIMEOUT_MS is answered 503', async (t) => {
  const { databaseUrl } = await services()
  const proxy = await tcpProxy(t, new URL(databaseUrl).host)
  const throughProxy = new URL(databaseUrl)
  throughProxy.host = proxy.address
  const app = await build(t, {
    DATABASE_URL: throughProxy.toString(),
    // Longer than the handler timeout and than the 2 s bound below, so the answer
    // can only come from the handler timeout; the stalled query ends with it.
    DB_STATEMENT_TIMEOUT_MS: '3000',
    HTTP_HANDLER_TIMEOUT_MS: '300',
  })
  // The pool's first connection (through the proxy) may take longer than the
  // 300 ms bound on a busy machine: the pool has it once a request gets a 200.
  await eventually(async () => {
    const res = await app.inject({ method: 'GET', url: '/users' })
    if (res.statusCode !== 200) throw new Error(`GET /users: ${res.statusCode}`)
  }, 10_000)
  t.pass('the pool has its connection')

  proxy.stall()
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/users' })
  const tookMs = Date.now() - started
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, code: 'FST_ERR_HANDLER_TIMEOUT', error: 'Service Unavailable' })
  t.ok(tookMs >= 300 && tookMs < 2000, `answered after the handler timeout, not the statement timeout (${tookMs} ms)`)

  t.equal(
    (await app.inject({ method: 'GET', url: '/' })).statusCode,
    200,
    'a route that waits on nothing still answers',
  )
})
