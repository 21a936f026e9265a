// The same-work ceiling: what each route costs with none of the features
// around it. Bare Fastify (logger off, default options) with only the app's
// data plugins (the Postgres pool, the Redis client, the cache store, the user
// cache, the users repository, the health checks: decorators, no hooks) and the
// app's own route modules, so every request runs the same SQL, the same Redis
// commands, the same validation and serialization, with the same clients and
// settings (and the node flags of `npm start`). Left out: request logging,
// metrics, rate limiting, security headers, request ids, timeouts and the
// error handler. (The route table and the OpenAPI document are there: the
// routes declare into them, at start only.)
// The app's configuration comes from the environment, as for the app.
// SAME_WORK_LOGGER=info turns on Fastify's own logger with its default request
// logging (a line on arrival and one on completion, to stdout), to see what
// logging alone costs the ceiling (docs/performance.md).
// Usage: node scripts/bench/same-work.ts <port>
import Fastify from 'fastify'
import { destination } from 'pino'
import { loadConfig } from '../../lib/config.ts'
import { ErrorResponse } from '../../lib/schemas/error.ts'
import cacheStorePlugin from '../../plugins/app/cache-store.ts'
import endpointsPlugin from '../../plugins/app/endpoints.ts'
import healthPlugin from '../../plugins/app/health.ts'
import migrationsPlugin from '../../plugins/app/migrations.ts'
import userCachePlugin from '../../plugins/app/user-cache.ts'
import usersPlugin from '../../plugins/app/users.ts'
import postgresPlugin from '../../plugins/external/postgres.ts'
import redisPlugin from '../../plugins/external/redis.ts'
import swaggerPlugin from '../../plugins/external/swagger.ts'
import cacheRoutes from '../../routes/cache.ts'
import healthRoutes from '../../routes/health.ts'
import rootRoutes from '../../routes/root.ts'
import userRoutes from '../../routes/users.ts'

const [port] = process.argv.slice(2)
// The app has applied the migrations already.
const config = loadConfig(process.env, { MIGRATE_ON_START: false })
const logLevel = process.env.SAME_WORK_LOGGER
const app = Fastify(logLevel ? { logger: { level: logLevel, stream: destination({ dest: 1, sync: false }) } } : {})
// The route table and the document: work at start only, no hook on a request.
await app.register(endpointsPlugin)
await app.register(swaggerPlugin)
app.addSchema(ErrorResponse)
await app.register(postgresPlugin, { config })
await app.register(migrationsPlugin, { config })
await app.register(redisPlugin, { config })
await app.register(cacheStorePlugin, { maxValueBytes: config.CACHE_MAX_VALUE_BYTES })
await app.register(userCachePlugin, { ttlSeconds: config.USERS_CACHE_TTL_SECONDS })
await app.register(usersPlugin)
await app.register(healthPlugin)
await app.register(rootRoutes)
await app.register(userRoutes)
await app.register(cacheRoutes)
await app.register(healthRoutes)
await app.listen({ port: Number(port), host: '127.0.0.1' })
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
