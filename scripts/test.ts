// `npm test`: runs the tap suite against one Postgres and one Redis shared by
// every test file (each file still gets its own database and key prefix).
// With DATABASE_URL and REDIS_URL set, those servers are used and no container
// starts. Extra arguments go to tap: `npm test -- test/cache.test.ts`.
import { spawn } from 'node:child_process'
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from '@testcontainers/postgresql'
import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis'

const POSTGRES_IMAGE = process.env.POSTGRES_IMAGE || 'postgres:15-alpine'
const REDIS_IMAGE = process.env.REDIS_IMAGE || 'redis:7-alpine'

const started: (StartedPostgreSqlContainer | StartedRedisContainer)[] = []
const env = { ...process.env }

const startedAt = Date.now()
if (!env.DATABASE_URL || !env.REDIS_URL) {
  const [postgres, redis] = await Promise.all([
    env.DATABASE_URL ? undefined : new PostgreSqlContainer(POSTGRES_IMAGE).start(),
    env.REDIS_URL ? undefined : new RedisContainer(REDIS_IMAGE).start(),
  ])
  if (postgres) {
    started.push(postgres)
    env.DATABASE_URL = postgres.getConnectionUri()
  }
  if (redis) {
    started.push(redis)
    env.REDIS_URL = redis.getConnectionUrl()
  }
  console.log(`test services up in ${Date.now() - startedAt} ms (${POSTGRES_IMAGE}, ${REDIS_IMAGE})`)
}

const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...process.argv.slice(2)], {
  env,
  stdio: 'inherit',
})
// Ctrl-C reaches tap through the terminal; wait for it, then clean up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => tap.kill(signal))
const exitCode = await new Promise<number>((resolve) => tap.on('exit', (code) => resolve(code ?? 1)))
await Promise.all(started.map((container) => container.stop()))
process.exit(exitCode)
