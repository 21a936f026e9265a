import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { packageVersion } from '../src/package-info.ts'
import { ErrorResponse } from '../src/schemas.ts'

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
          description:
            'A Fastify web service with PostgreSQL (users) and Redis (a key-value cache), orchestrated by Docker Compose.',
        },
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
