import client from '@prometheus-io/client'
import type { RouteOptions } from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'

const METRICS_PATH = '/metrics'

// Prometheus' default buckets: this API answers in milliseconds, so the finer
// low end matters more than the plugin's default (which starts at 50 ms).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Prometheus metrics at /metrics (text exposition format): process and
 * Node.js metrics, a latency histogram per route pattern (`/cache/:key`, never
 * the raw URL), and the state of the Postgres pool and the Redis client, read
 * at each scrape. Each app has its own registry, so several apps can live in
 * one process (the tests build many).
 */
export default fp(
  async function metricsPlugin(fastify, { config }: { config: Config }) {
    const registry = new client.Registry()
    const endpoint = {
      url: METRICS_PATH,
      method: 'GET',
      exposeHeadRoute: false,
      schema: { hide: true },
      config: { rateLimit: false, requestLog: false, shedLoad: false },
    } as RouteOptions

    // A CommonJS module with an `exports.default`: Node.js hands ESM the whole exports object.
    await fastify.register(fastifyMetrics.default, {
      // With METRICS_PORT, plugins/app/metrics-port.ts serves them there instead.
      endpoint: config.METRICS_PORT ? null : endpoint,
      // The plugin serves `promClient.register`: make that this app's registry.
      promClient: { ...client, register: registry },
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: {
        // A histogram only: unlike a summary it aggregates across replicas, and
        // it costs less per request.
        enabled: { histogram: true, summary: false },
        routeBlacklist: [METRICS_PATH],
        overrides: {
          histogram: { buckets: LATENCY_BUCKETS, registers: [registry] },
          // The plugin creates the summary even when disabled: register it nowhere.
          summary: { registers: [] },
        },
      },
    })

    const { db } = fastify
    const poolGauges = [
      ['pg_pool_connections', 'Open Postgres connections in the pool, busy or idle', () => db.poolStats().total],
      ['pg_pool_idle_connections', 'Open Postgres connections waiting for a query', () => db.poolStats().idle],
      ['pg_pool_waiting_queries', 'Queries waiting for a free Postgres connection', () => db.poolStats().waiting],
      ['pg_pool_max_connections', 'Most connections the pool opens (DB_POOL_MAX)', () => config.DB_POOL_MAX],
    ] as const
    for (const [name, help, read] of poolGauges) {
      new client.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read())
        },
      })
    }
    new client.Gauge({
      name: 'redis_client_ready',
      help: '1 when the Redis client is connected and ready, else 0',
      registers: [registry],
      collect() {
        this.set(fastify.redis.status === 'ready' ? 1 : 0)
      },
    })
  },
  { name: 'metrics', dependencies: ['postgres', 'redis'], fastify: '5.x' },
)
