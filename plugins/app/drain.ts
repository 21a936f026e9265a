import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'

const POLL_MS = 10

interface DrainOptions {
  /** A connection with nothing in flight that has received nothing for this long is closed. */
  quietMs: number
  /** Then every connection with nothing in flight is closed, however recently it spoke. */
  maxWaitMs: number
}

/**
 * How the server lets its connections go when it closes, so that no request
 * it accepted is lost.
 *
 * Node's `server.close()` closes the idle connections first and the listening
 * socket after. A client whose idle keep-alive connection was just closed
 * reconnects at once; if the process is descheduled between the two steps (a
 * busy machine: tens of ms), that new connection completes its handshake in
 * the kernel's accept queue, and closing the listener resets it: the client
 * sees ECONNRESET on a fresh connection, its request lost. Node's "idle" is
 * also both too eager and too lax: a keep-alive connection idle now may carry
 * the client's next request at this very moment (destroying it loses that
 * request), while a connection that was accepted and never sent a byte does
 * not count as idle at all, and holds close() open until the process deadline.
 *
 * So, on close: the listener is closed first (new connections are refused,
 * which a client or balancer can retry safely); then a connection with no
 * request in flight is closed once it has been quiet for `quietMs` (or at
 * `maxWaitMs`), so a request already on its way is read and answered. Every
 * answer sent while closing carries `Connection: close`, so each connection
 * ends with its request in flight.
 */
export default fp(
  async function drainPlugin(fastify, options: DrainOptions) {
    const sockets = new Set<Socket>()
    fastify.server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })

    let closing = false
    fastify.addHook('preClose', (done) => {
      closing = true
      if (fastify.server.listening) closeIdleAfterListener(fastify.server, sockets, options)
      done()
    })
    // Every answer sent once closing has started, also those of the requests in flight.
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) reply.header('connection', 'close')
      done(null, payload)
    })
  },
  { name: 'drain', fastify: '5.x' },
)

/** The response the server owes on this connection, if any (Node's own `closeIdleConnections` reads it too). */
function inFlightResponse(socket: Socket): ServerResponse | undefined {
  const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  return response != null && !response.writableFinished ? response : undefined
}

/**
 * `server.close()` calls `closeIdleConnections()` and then closes the
 * listener, in one synchronous step: this instance's version only schedules
 * the work, which therefore starts once the listener is closed.
 */
function closeIdleAfterListener(server: Server, sockets: Set<Socket>, { quietMs, maxWaitMs }: DrainOptions) {
  server.closeIdleConnections = () => {
    const startedAt = Date.now()
    const lastHeard = new Map<Socket, { bytesRead: number; at: number }>()
    const sweep = () => {
      const now = Date.now()
      const late = now - startedAt >= maxWaitMs
      for (const socket of sockets) {
        if (socket.destroyed || inFlightResponse(socket)) continue
        const heard = lastHeard.get(socket)
        if (heard === undefined || heard.bytesRead !== socket.bytesRead) {
          lastHeard.set(socket, { bytesRead: socket.bytesRead, at: heard === undefined ? startedAt : now })
        }
        if (late || now - (lastHeard.get(socket)?.at ?? startedAt) >= quietMs) socket.destroy()
      }
      // After maxWaitMs only the connections still answering are left: each ends with its answer.
      if (sockets.size > 0) setTimeout(sweep, POLL_MS)
    }
    setImmediate(sweep)
  }
}
