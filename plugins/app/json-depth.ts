import createError from '@fastify/error'
import type { preValidationHookHandler } from 'fastify'
import fp from 'fastify-plugin'

export const MAX_JSON_DEPTH = 64

const TooDeepError = createError(
  'FST_ERR_BODY_TOO_DEEP',
  `Body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`,
  400,
)

/** Walks without recursion, so an adversarial body cannot overflow the stack here. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next
    if (node === null || typeof node !== 'object') continue
    if (depth > limit) return true
    for (const child of Object.values(node)) pending.push([child, depth + 1])
  }
  return false
}

const checkDepth: preValidationHookHandler = (request, _reply, done) => {
  const { body } = request
  done(
    body !== null && typeof body === 'object' && nestsDeeperThan(body, MAX_JSON_DEPTH) ? new TooDeepError() : undefined,
  )
}

/**
 * JSON.parse accepts any depth, but JSON.stringify (when the value is stored
 * or sent back) recurses and overflows the stack at a few thousand levels:
 * bodies deeper than MAX_JSON_DEPTH are a 400 before any handler sees them.
 * A request without a body (a GET) passes at once.
 */
export default fp(
  async function jsonDepthPlugin(fastify) {
    fastify.addHook('preValidation', checkDepth)
  },
  { name: 'json-depth', fastify: '5.x' },
)
