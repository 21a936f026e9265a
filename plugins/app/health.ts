import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { MigrationsPendingError } from '../../lib/errors.ts'
import type { HealthReport, ServiceStatus } from '../../lib/schemas/health.ts'
import { TimeoutError, withTimeout } from '../../lib/timeout.ts'

declare module 'fastify' {
  interface FastifyInstance {
    health: {
      /** Checks both dependencies; failures are logged on `log` (the request's, so they carry its id). */
      check(log?: FastifyBaseLogger): Promise<HealthReport>
    }
  }
}

const CHECK_TIMEOUT_MS = 1000

function describe(err: unknown): string {
  if (err instanceof TimeoutError) return `no answer within ${CHECK_TIMEOUT_MS} ms`
  if (err instanceof MigrationsPendingError) return 'schema migrations not applied yet'
  return 'unreachable'
}

export default fp(
  async function healthPlugin(fastify) {
    // Details (addresses, driver messages) go to the log; the response only
    // says what kind of failure it was.
    async function probe(
      service: string,
      check: () => Promise<unknown>,
      log: FastifyBaseLogger,
    ): Promise<ServiceStatus> {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS, `${service} check`)
        return { status: 'ok', service }
      } catch (err) {
        log.warn({ err, service }, 'health check failed')
        return { status: 'error', service, error: describe(err) }
      }
    }

    // Postgres serves this app once it answers and the schema is migrated.
    async function postgresReady() {
      await fastify.db.ping(CHECK_TIMEOUT_MS)
      if (!fastify.migrations.done) throw new MigrationsPendingError()
    }

    async function check(log: FastifyBaseLogger = fastify.log): Promise<HealthReport> {
      const [db, cache] = await Promise.all([
        probe('PostgreSQL', postgresReady, log),
        probe('Redis', () => fastify.redis.ping(), log),
      ])
      const healthy = db.status === 'ok' && cache.status === 'ok'
      return {
        status: healthy ? 'healthy' : 'degraded',
        timestamp: new Date().toISOString(),
        services: { web: { status: 'ok', service: 'Fastify API' }, db, cache },
      }
    }

    fastify.decorate('health', { check })
  },
  { name: 'health', dependencies: ['postgres', 'redis', 'migrations'], fastify: '5.x' },
)
