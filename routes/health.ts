import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errorResponses } from '../lib/schemas/error.ts'
import { HealthReport, Liveness } from '../lib/schemas/health.ts'

// Probes answer however busy the client is: not rate limited.
const NOT_RATE_LIMITED = { rateLimit: false } as const

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const dependencyCheck = {
    config: NOT_RATE_LIMITED,
    schema: {
      tags: ['health'],
      response: {
        200: Type.Ref(HealthReport, { description: 'Both dependencies answer' }),
        503: Type.Ref(HealthReport, { description: 'At least one dependency does not answer' }),
        ...errorResponses(500),
      },
    },
  }
  async function report(request: FastifyRequest, reply: FastifyReply) {
    const health = await fastify.health.check(request.log)
    return reply.code(health.status === 'healthy' ? 200 : 503).send(health)
  }

  fastify.get(
    '/health',
    {
      ...dependencyCheck,
      schema: { ...dependencyCheck.schema, summary: 'Checks Postgres and Redis in parallel, each within 1 s' },
    },
    report,
  )

  fastify.get(
    '/health/ready',
    {
      ...dependencyCheck,
      schema: {
        ...dependencyCheck.schema,
        summary: 'Readiness: the same checks as /health (can this instance serve every route?)',
      },
    },
    report,
  )

  fastify.get(
    '/health/live',
    {
      config: NOT_RATE_LIMITED,
      // The container healthcheck calls it every few seconds: keep it out of the info log.
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up; calls no dependency',
        response: { 200: Type.Ref(Liveness) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )
}

export default healthRoutes
