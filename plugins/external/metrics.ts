import client from '@prometheus-io/client'
import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus registry (plugins/app/metrics-port.ts serves it on METRICS_PORT). */
    metricsRegistry: client.Registry
  }
}

const METRICS_PATH = '/metrics'

// Prometheus' default buckets: this API answers in milliseconds, so the finer
// low end matters more than the usual web defaults (which start at 50 ms).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Prometheus metrics at /metrics (text exposition format), with prom-client:
 * process and Node.js metrics, a latency histogram per route pattern
 * (`/cache/:key`, never the raw URL), and the state of the Postgres pool and the
 * Redis client, read at each scrape. Each app has its own registry, so several
 * apps can live in one process (the tests build many).
 *
 * The histogram is fed from one onResponse hook with the time Fastify already
 * measures (`reply.elapsedTime`), through a label child made once per method,
 * route and status. (fastify-metrics starts a timer closure per request and
 * keeps it in a WeakMap: 6-8 µs of every request here, a tenth of a trivial
 * route's cost; see docs/performance.md.)
 */
export default fp(
  async function metricsPlugin(fastify, { config }: { config: Config }) {
    const registry = new client.Registry()
    client.collectDefaultMetrics({ register: registry })

    const duration = new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'request duration in seconds',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    })
    const observers = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status_code'>>()
    fastify.addHook('onResponse', (request, reply, done) => {
      // Routes only: a 404 for an unknown URL has no pattern, and raw URLs would grow the series without bound.
      const route = request.routeOptions.url
      if (route !== undefined && route !== METRICS_PATH) {
        const key = `${request.method} ${reply.statusCode} ${route}`
        let observer = observers.get(key)
        if (!observer) {
          observer = duration.labels(request.method, route, String(reply.statusCode))
          observers.set(key, observer)
        }
        observer.observe(reply.elapsedTime / 1000)
      }
      done()
    })

    fastify.decorate('metricsRegistry', registry)
    // With METRICS_PORT, plugins/app/metrics-port.ts serves them there instead.
    if (!config.METRICS_PORT) {
      fastify.get(
        METRICS_PATH,
        {
          exposeHeadRoute: false,
          schema: { hide: true },
          config: { endpoint: 'metrics', rateLimit: false, requestLog: false, shedLoad: false },
        },
        async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
      )
    }

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
