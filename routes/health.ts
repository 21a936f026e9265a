import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../src/schemas.ts'

const ServiceStatus = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  service: Type.String(),
  error: Type.Optional(Type.String({ description: 'Why the check failed (details are in the logs)' })),
})

const HealthReport = Type.Object(
  {
    status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded')]),
    timestamp: Type.String({ format: 'date-time' }),
    services: Type.Object({ web: ServiceStatus, db: ServiceStatus, cache: ServiceStatus }),
  },
  { title: 'HealthReport' },
)

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Checks Postgres and Redis in parallel, each within 1 s',
        response: {
          200: { ...HealthReport, description: 'Both dependencies answer' },
          503: { ...HealthReport, description: 'At least one dependency does not answer' },
          ...errorResponses(500),
        },
      },
    },
    async (request, reply) => {
      const report = await fastify.health.check(request.log)
      return reply.code(report.status === 'healthy' ? 200 : 503).send(report)
    },
  )
}

export default healthRoutes
