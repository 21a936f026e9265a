import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errorResponses } from '../lib/schemas/error.ts'
import { HealthReport, Liveness } from '../lib/schemas/health.ts'

// Probes answer however busy the client is (not rate limited) and however busy
// the server is (never shed: an overloaded replica is not a dead one).
const PROBE = { rateLimit: false, shedLoad: false } as const

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  for (const schema of [HealthReport, Liveness]) fastify.addSchema(schema)
  const tags = [fastify.openapiTag('health', 'Health of the service and its dependencies')]

  const dependencyCheck = {
    schema: {
      tags,
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
      config: { ...PROBE, endpoint: 'health' },
      schema: {
        ...dependencyCheck.schema,
        operationId: 'getHealth',
        summary: 'Checks Postgres and Redis in parallel, each within 1 s',
        description:
          'Asks Postgres (`SELECT 1`, and the schema migrated) and Redis (`PING`), each within 1 s. 200 when both ' +
          'answer, else 503; each service says `ok` or `error`, with the kind of failure (details go to the log).',
      },
    },
    report,
  )

  fastify.get(
    '/health/ready',
    {
      ...dependencyCheck,
      config: { ...PROBE, endpoint: 'health_ready' },
      schema: {
        ...dependencyCheck.schema,
        operationId: 'getReadiness',
        summary: 'Readiness: the same checks as /health (can this instance serve every route?)',
        description:
          'For orchestrators: the checks of getHealth, with the same answer. While it is 503 this instance still ' +
          'serves the routes that do not need the failed dependency.',
      },
    },
    report,
  )

  fastify.get(
    '/health/live',
    {
      // The container healthcheck calls it every few seconds: keep it out of the log.
      config: { ...PROBE, endpoint: 'health_live', requestLog: false, synchronous: true },
      schema: {
        operationId: 'getLiveness',
        tags,
        summary: 'Liveness: the process is up; calls no dependency',
        description:
          "For the container's healthcheck: 200 while the process serves HTTP, even with Postgres and Redis down " +
          '(the service heals by itself when they come back). Not rate limited.',
        response: { 200: Type.Ref(Liveness), ...errorResponses(500) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )
}

export default healthRoutes
