import type { FastifyError, FastifyInstance } from 'fastify'
import { apiKeys, type Config } from '../lib/config.ts'
import { ErrorResponse, errorBody } from '../lib/schemas/error.ts'
import cacheStorePlugin from '../plugins/app/cache-store.ts'
import drainPlugin from '../plugins/app/drain.ts'
import endpointsPlugin from '../plugins/app/endpoints.ts'
import healthPlugin from '../plugins/app/health.ts'
import idempotencyPlugin from '../plugins/app/idempotency.ts'
import jsonDepthPlugin from '../plugins/app/json-depth.ts'
import metricsPortPlugin from '../plugins/app/metrics-port.ts'
import migrationsPlugin from '../plugins/app/migrations.ts'
import requestIdPlugin from '../plugins/app/request-id.ts'
import userCachePlugin from '../plugins/app/user-cache.ts'
import usersPlugin from '../plugins/app/users.ts'
import apiKeysPlugin from '../plugins/external/api-keys.ts'
import metricsPlugin from '../plugins/external/metrics.ts'
import postgresPlugin from '../plugins/external/postgres.ts'
import rateLimitPlugin from '../plugins/external/rate-limit.ts'
import redisPlugin from '../plugins/external/redis.ts'
import securityPlugin from '../plugins/external/security.ts'
import swaggerPlugin from '../plugins/external/swagger.ts'
import underPressurePlugin from '../plugins/external/under-pressure.ts'
import cacheRoutes from '../routes/cache.ts'
import healthRoutes from '../routes/health.ts'
import rootRoutes from '../routes/root.ts'
import userRoutes from '../routes/users.ts'

interface AppOptions {
  config: Config
}

/**
 * The whole application as one plugin, in build order. First the plugins that
 * wrap third-party libraries: documentation first (it must see every route),
 * security headers, load shedding (before any other work on a request), the
 * Postgres pool and the Redis client, then metrics, the rate limiter and the
 * API keys (they hook into every route registered after them; the key check
 * after the rate limit, so a 401 counts). Then the app's own plugins, which
 * use those; then the error handler and the routes.
 */
export default async function app(fastify: FastifyInstance, { config }: AppOptions) {
  // Before any route: it lists them all for GET /.
  await fastify.register(endpointsPlugin)
  await fastify.register(swaggerPlugin)
  await fastify.register(securityPlugin, { config })
  await fastify.register(underPressurePlugin, { config })
  await fastify.register(postgresPlugin, { config })
  await fastify.register(redisPlugin, { config })
  await fastify.register(metricsPlugin, { config })
  await fastify.register(rateLimitPlugin, { config })
  await fastify.register(apiKeysPlugin, { config })

  await fastify.register(jsonDepthPlugin)
  // While closing, an idle connection gets a moment to deliver a request already
  // on its way (within the shutdown budget: at most a quarter of it).
  const drainWaitMs = Math.min(1000, config.SHUTDOWN_TIMEOUT_MS / 4)
  await fastify.register(drainPlugin, { quietMs: Math.min(200, drainWaitMs), maxWaitMs: drainWaitMs })
  await fastify.register(requestIdPlugin)
  await fastify.register(migrationsPlugin, { config })
  await fastify.register(cacheStorePlugin, { maxValueBytes: config.CACHE_MAX_VALUE_BYTES })
  await fastify.register(userCachePlugin, { ttlSeconds: config.USERS_CACHE_TTL_SECONDS })
  await fastify.register(usersPlugin)
  await fastify.register(idempotencyPlugin, {
    perApiKey: apiKeys(config).length > 0,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  })
  await fastify.register(healthPlugin)
  await fastify.register(metricsPortPlugin, { config })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ err: error }, 'request rejected')
    // A 503 names the missing service; any other 5xx hides its cause.
    const message = statusCode >= 500 && statusCode !== 503 ? 'Internal Server Error' : error.message
    const code = statusCode === 500 ? undefined : error.code
    return reply.code(statusCode).send(errorBody(statusCode, code, message))
  })

  // The schema every route's errors share; each routes module adds its resource's own.
  fastify.addSchema(ErrorResponse)
  await fastify.register(rootRoutes)
  await fastify.register(userRoutes)
  await fastify.register(cacheRoutes)
  await fastify.register(healthRoutes)
}
