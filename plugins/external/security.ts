import fastifyCors from '@fastify/cors'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import type { Config } from '../../lib/config.ts'

/**
 * Security headers on every response (helmet), with a Content-Security-Policy
 * that lets the Swagger UI at /docs run its own scripts and styles; and CORS
 * only for the origins listed in CORS_ORIGINS (none by default).
 */
export default fp(
  async function securityPlugin(fastify, { config }: { config: Config }) {
    const swagger = fastify.swaggerCSP
    // helmet's middleware, built once. (@fastify/helmet builds a new one, parsing
    // the whole policy again, for every request: 13% of the CPU time of GET /.)
    const setSecurityHeaders = helmet({
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
      setSecurityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined))
    })

    const origins = config.CORS_ORIGINS
    if (origins) {
      await fastify.register(fastifyCors, {
        origin: origins === '*' ? '*' : origins.split(','),
        methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
        exposedHeaders: ['location', 'retry-after', 'x-cache', 'x-request-id'],
        maxAge: 600,
      })
    }
  },
  { name: 'security', dependencies: ['swagger'], fastify: '5.x' },
)
