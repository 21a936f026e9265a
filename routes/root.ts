import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { packageVersion } from '../lib/package-info.ts'
import { errorResponses } from '../lib/schemas/error.ts'
import { ServiceInfo } from '../lib/schemas/info.ts'

// The original's keys and values, kept for its clients; new ones are added.
const ENDPOINTS = {
  info: '/',
  users: '/users',
  user_get: '/users/<id>',
  user_create: '/users (POST)',
  user_update: '/users/<id> (PATCH)',
  user_delete: '/users/<id> (DELETE)',
  cache_set: '/cache (POST)',
  cache_get: '/cache/<key>',
  health: '/health',
  docs: '/docs',
  health_live: '/health/live',
  health_ready: '/health/ready',
  metrics: '/metrics',
}

const SERVICES = { web: 'Fastify API', db: 'PostgreSQL 15', cache: 'Redis 7' }

const rootRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/',
    {
      schema: {
        operationId: 'getInfo',
        tags: ['info'],
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
      endpoints: ENDPOINTS,
      services: SERVICES,
    }),
  )
}

export default rootRoutes
