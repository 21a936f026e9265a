import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { packageVersion } from '../lib/package-info.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import { ServiceInfo } from '../lib/schemas/info.ts'

const SERVICES = { web: 'Fastify API', db: 'PostgreSQL 15', cache: 'Redis 7' }

const rootRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addSchema(ServiceInfo)
  const tags = [fastify.openapiTag('info', 'About the service')]

  fastify.get(
    '/',
    {
      config: { endpoint: 'info', synchronous: true },
      schema: {
        operationId: 'getInfo',
        tags,
        summary: 'What this service is and which endpoints it has',
        description:
          "The service's name and version, the server time, the path of each endpoint and the services " +
          'behind it. Calls no dependency.',
        response: { 200: Type.Ref(ServiceInfo), ...errorResponses(429, 500, 503) },
      },
    },
    async () => ({
      service: 'Desafio 3 - Docker Compose',
      version: packageVersion,
      timestamp: new Date().toISOString(),
      // Every named route (plugins/app/endpoints.ts), the original's under its names.
      endpoints: fastify.endpoints,
      services: SERVICES,
    }),
  )
}

export default rootRoutes
