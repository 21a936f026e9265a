import fastifyBearerAuth from '@fastify/bearer-auth'
import type { FastifySchema, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { apiKeys, type Config } from '../../lib/config.ts'
import { UnauthorizedError } from '../../lib/errors.ts'
import { appendRouteHook } from '../../lib/route-hooks.ts'
import { API_KEY_SCHEME } from '../../lib/schemas/security.ts'

/** Whether the route's OpenAPI `security` asks for an API key (lib/schemas/security.ts). */
function requiresApiKey(schema: FastifySchema | undefined): boolean {
  return schema?.security?.some((requirement) => API_KEY_SCHEME in requirement) ?? false
}

/**
 * API keys for the writes, through @fastify/bearer-auth (keys compared in
 * constant time). With API_KEYS (or API_KEYS_FILE) set, every route whose
 * schema declares `security: API_KEY_REQUIRED` needs `Authorization: Bearer
 * <key>`; otherwise it answers 401 with `WWW-Authenticate: Bearer` and one
 * error body, whatever was wrong. Unset: writes are open, as in the original,
 * and the log says so once.
 *
 * The check is an onRequest hook, so a client without a key never gets its
 * body read or parsed. It runs after the rate limiter's (registered before this
 * plugin, it appends its hook to each route first): a 401 counts against the
 * client's budget, which bounds guessing.
 */
export default fp(
  async function apiKeysPlugin(fastify, { config }: { config: Config }) {
    const log = fastify.log.child({ plugin: 'api-keys' })
    const keys = apiKeys(config)
    if (keys.length === 0) {
      log.warn('API_KEYS is not set: writes (POST, PATCH, DELETE) are open to anyone')
      return
    }

    await fastify.register(fastifyBearerAuth, {
      keys,
      // No hook of its own: the routes that declare the scheme get `requireApiKey`.
      addHook: false,
      // `Bearer`, `bearer`: HTTP authentication schemes are case-insensitive (RFC 9110).
      specCompliance: 'rfc6749',
      // The error handler logs every 401 already (at info, without the header).
      verifyErrorLogLevel: 'debug',
    })
    const verify = fastify.verifyBearerAuth
    if (!verify) throw new Error('@fastify/bearer-auth did not decorate verifyBearerAuth')

    const requireApiKey: onRequestHookHandler = (request, reply, done) => {
      verify(request, reply, (err) => {
        if (!err) return done()
        reply.header('www-authenticate', 'Bearer')
        done(new UnauthorizedError())
      })
    }
    fastify.addHook('onRoute', (route) => {
      if (requiresApiKey(route.schema)) appendRouteHook(route, 'onRequest', requireApiKey)
    })
    log.info({ keys: keys.length }, 'writes need an API key')
  },
  // After the rate limiter: see above.
  { name: 'api-keys', dependencies: ['rate-limit'], fastify: '5.x' },
)
