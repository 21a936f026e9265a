import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const REQUEST_ID_HEADER = 'x-request-id'

// What an incoming id may look like: UUIDs, ULIDs, trace ids. Anything else
// (too long, spaces, newlines, quotes) could forge or break log lines, so it is
// replaced by a fresh id.
const ACCEPTED_REQUEST_ID = /^[\w.:=+/@-]{1,128}$/

/**
 * Fastify's `genReqId`: the caller's `x-request-id` when it is a safe token,
 * else a new UUID. Fastify puts the id on `request.id` and on every log line
 * of the request (`requestId`).
 */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER]
  return typeof incoming === 'string' && ACCEPTED_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
