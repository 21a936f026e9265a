import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import type { Config } from '../../lib/config.ts'
import { redisClientOptions } from '../../lib/connections.ts'
import { withTimeout } from '../../lib/timeout.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client. Every key it touches is under REDIS_KEY_PREFIX. */
    redis: Redis
  }
}

/**
 * Owns the ioredis client. We build it instead of registering @fastify/redis:
 * that plugin holds `ready()` until Redis answers and fails start-up when it
 * gives up, while this service must start, and recover, with Redis down.
 */
export default fp(
  async function redisPlugin(fastify, { config }: { config: Config }) {
    const log = fastify.log.child({ plugin: 'redis' })
    const client = new Redis(redisClientOptions(config))

    // ioredis emits an error per failed reconnect: log the transitions only.
    let healthy = true
    client.on('error', (err) => {
      if (healthy) log.warn({ err }, 'redis unavailable, reconnecting')
      healthy = false
    })
    client.on('ready', () => {
      if (!healthy) log.info('redis connection restored')
      healthy = true
    })

    fastify.decorate('redis', client)
    // Give Redis a moment to answer so the first requests find it connected,
    // but start without it: the client keeps reconnecting in the background.
    const connected = new Promise((resolve) => client.once('ready', resolve))
    await withTimeout(connected, config.REDIS_COMMAND_TIMEOUT_MS, 'redis connection').catch(() => {
      log.warn('starting without redis')
    })

    fastify.addHook('onClose', async () => {
      if (client.status === 'ready') {
        await client.quit().catch(() => client.disconnect())
      } else {
        client.disconnect()
      }
      log.info('redis connection closed')
    })
  },
  { name: 'redis', fastify: '5.x' },
)
