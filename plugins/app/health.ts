import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { MigrationsPendingError } from '../../lib/errors.ts'
import { oncePerTurn } from '../../lib/once-per-turn.ts'
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

/** One dependency's status, and the error behind a failure (for the log). */
interface Probe {
  status: ServiceStatus
  err?: unknown
}

function describe(err: unknown): string {
  if (err instanceof TimeoutError) return `no answer within ${CHECK_TIMEOUT_MS} ms`
  if (err instanceof MigrationsPendingError) return 'schema migrations not applied yet'
  return 'unreachable'
}

export default fp(
  async function healthPlugin(fastify) {
    // Details (addresses, driver messages) go to the log; the response only
    // says what kind of failure it was.
    async function probe(service: string, check: () => Promise<unknown>): Promise<Probe> {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS, `${service} check`)
        return { status: { status: 'ok', service } }
      } catch (err) {
        return { status: { status: 'error', service, error: describe(err) }, err }
      }
    }

    // Postgres serves this app once it answers and the schema is migrated.
    async function postgresReady() {
      await fastify.db.ping(CHECK_TIMEOUT_MS)
      if (!fastify.migrations.done) throw new MigrationsPendingError()
    }

    // Checks asked for in the same turn of the event loop share one round of probes.
    const probes = oncePerTurn(() =>
      Promise.all([probe('PostgreSQL', postgresReady), probe('Redis', () => fastify.redis.ping())]),
    )

    async function check(log: FastifyBaseLogger = fastify.log): Promise<HealthReport> {
      const [db, cache] = await probes('both')
      for (const { status, err } of [db, cache]) {
        if (err) log.warn({ err, service: status.service }, 'health check failed')
      }
      const healthy = db.status.status === 'ok' && cache.status.status === 'ok'
      return {
        status: healthy ? 'healthy' : 'degraded',
        timestamp: new Date().toISOString(),
        services: { web: { status: 'ok', service: 'Fastify API' }, db: db.status, cache: cache.status },
      }
    }

    fastify.decorate('health', { check })
  },
  { name: 'health', dependencies: ['postgres', 'redis', 'migrations'], fastify: '5.x' },
)
