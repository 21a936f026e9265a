import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'
import { postgresConnection } from '../../lib/connections.ts'
import { migrate } from '../../lib/migrations.ts'
import { withTimeout } from '../../lib/timeout.ts'

declare module 'fastify' {
  interface FastifyInstance {
    migrations: {
      /** True once the migrations in sql/ are applied (or MIGRATE_ON_START is off). */
      readonly done: boolean
    }
  }
}

const MIGRATION_RETRY_MS = 2000
const MIGRATION_WAIT_MS = 5000

/**
 * With MIGRATE_ON_START, applies the migrations in sql/ as the server starts.
 * Start-up does not wait for Postgres: one attempt, then retries in the
 * background until it succeeds. Health reports the database as not ready until then.
 */
export default fp(
  async function migrationsPlugin(fastify, { config }: { config: Config }) {
    const connection = postgresConnection(config)
    const log = fastify.log.child({ plugin: 'migrations' })

    let done = !config.MIGRATE_ON_START
    let closing = false
    let retryTimer: NodeJS.Timeout | undefined
    let attempt: Promise<void> | undefined

    const migrationLogger = {
      info: (msg: string) => log.info(msg),
      warn: (msg: string) => log.warn(msg),
      // The runner reports each failed attempt; migrateOnce logs it once, as a warning.
      error: (msg: string) => log.debug(msg),
    }

    async function migrateOnce(): Promise<void> {
      try {
        const applied = await migrate(connection, migrationLogger)
        done = true
        log.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date')
      } catch (err) {
        log.warn({ err }, `migrations not applied, retrying in ${MIGRATION_RETRY_MS} ms`)
        if (!closing) {
          retryTimer = setTimeout(() => {
            attempt = migrateOnce()
          }, MIGRATION_RETRY_MS)
        }
      }
    }

    fastify.decorate('migrations', {
      get done() {
        return done
      },
    })

    if (config.MIGRATE_ON_START) {
      fastify.addHook('onReady', async () => {
        attempt = migrateOnce()
        // A slow migration (or one waiting for another instance's lock) goes on
        // in the background rather than failing start-up at Fastify's plugin timeout.
        await withTimeout(attempt, MIGRATION_WAIT_MS, 'migrations').catch(() => {
          log.warn(`migrations still running after ${MIGRATION_WAIT_MS} ms; starting meanwhile`)
        })
      })
    }
    fastify.addHook('onClose', async () => {
      closing = true
      clearTimeout(retryTimer)
      await attempt
    })
  },
  { name: 'migrations', fastify: '5.x' },
)
