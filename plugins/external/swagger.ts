import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { packageVersion } from '../../lib/package-info.ts'
import { ErrorResponse } from '../../lib/schemas/error.ts'

const DESCRIPTION = [
  'A Fastify web service with PostgreSQL (users) and Redis (a key-value cache), orchestrated by Docker Compose.',
  '',
  '- **Errors** are JSON: `{ statusCode, code, error, message }`.',
  '- **Request ids**: send `x-request-id` (up to 128 letters, digits and `._:=+/@-`) or get a new UUID;',
  '  every response carries it back, and every log line of the request has it as `requestId`.',
  '- **Rate limiting**: `RATE_LIMIT_MAX` requests per `RATE_LIMIT_WINDOW_MS` per client address, shared',
  '  by every replica through Redis; then 429 with a `retry-after` header (seconds). The health checks and',
  '  `/metrics` are not limited.',
  '- **Metrics** for Prometheus at `/metrics` (text format, not part of this API document).',
].join('\n')

/** OpenAPI 3.1, generated from the route schemas; UI at /docs, JSON at /docs/json. */
export default fp(
  async function swaggerPlugin(fastify) {
    fastify.addSchema(ErrorResponse)
    await fastify.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'desafio3 API',
          version: packageVersion,
          description: DESCRIPTION,
        },
        // Relative: requests go to wherever the page was loaded from (any host,
        // any port, behind compose or a proxy).
        servers: [{ url: '/', description: 'This server' }],
        tags: [
          { name: 'info', description: 'About the service' },
          { name: 'users', description: 'Users stored in PostgreSQL' },
          { name: 'cache', description: 'A JSON key-value cache in Redis, with expiry' },
          { name: 'health', description: 'Health of the service and its dependencies' },
        ],
      },
      // Shared schemas become components named after their $id.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    })
    await fastify.register(fastifySwaggerUi, { routePrefix: '/docs' })
  },
  { name: 'swagger', fastify: '5.x' },
)
