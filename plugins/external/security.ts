import type { IncomingMessage, ServerResponse } from 'node:http'
import fastifyCors from '@fastify/cors'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import type { Config } from '../../lib/config.ts'

type Headers = Record<string, string>

/**
 * What an API answer needs (OWASP REST Security Cheat Sheet): no caching of
 * data, no framing, no MIME sniffing. JSON is never rendered as a page, so the
 * rest of a browser page's policy would only add bytes.
 */
const API_HEADERS: Headers = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
}

/** The headers helmet's middleware sets for a policy: they depend on the policy only, so run it once. */
function helmetHeaders(options: Parameters<typeof helmet>[0]): Headers {
  const headers: Headers = {}
  const response = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()]
    },
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {})
  return headers
}

/**
 * Security headers on every response, computed once at start: for the API the
 * few a JSON answer needs; for the Swagger UI under /docs helmet's full policy,
 * with a Content-Security-Policy that lets it run its own scripts and styles.
 * CORS only for the origins listed in CORS_ORIGINS (none by default).
 */
export default fp(
  async function securityPlugin(fastify, { config }: { config: Config }) {
    const swagger = fastify.swaggerCSP
    const docsHeaders = helmetHeaders({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'", ...swagger.script],
          styleSrc: ["'self'", ...swagger.style],
          imgSrc: ["'self'", 'data:'],
          // This service speaks plain HTTP (TLS, when any, ends in front of it):
          // upgrading the UI's requests to https would break it.
          upgradeInsecureRequests: null,
        },
      },
      // HSTS over plain HTTP is ignored by browsers and misleading behind compose.
      strictTransportSecurity: false,
    })
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.headers(request.url.startsWith('/docs') ? docsHeaders : API_HEADERS)
      done()
    })

    const origins = config.CORS_ORIGINS
    if (origins) {
      await fastify.register(fastifyCors, {
        origin: origins === '*' ? '*' : origins.split(','),
        methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
        exposedHeaders: ['idempotent-replayed', 'location', 'retry-after', 'x-cache', 'x-request-id'],
        maxAge: 600,
      })
    }
  },
  { name: 'security', dependencies: ['swagger'], fastify: '5.x' },
)
