import { PostgreSqlContainer } from '@testcontainers/postgresql'
import { RedisContainer } from '@testcontainers/redis'
import { getContainerRuntimeClient, Wait } from 'testcontainers'

export const POSTGRES_IMAGE = process.env.POSTGRES_IMAGE || 'postgres:15-alpine'
export const REDIS_IMAGE = process.env.REDIS_IMAGE || 'redis:7-alpine'

/** Set by `npm test` (scripts/test.ts): every container of the run carries it, so the run can remove them all. */
const TEST_RUN_LABEL = 'desafio3.test-run'
function labels(): Record<string, string> {
  const run = process.env.DESAFIO3_TEST_RUN
  return run ? { [TEST_RUN_LABEL]: run } : {}
}

/**
 * A Postgres for tests. Ready when the server says so the second time (the
 * image's entrypoint runs a temporary server for initdb first); no Docker
 * healthcheck, since testcontainers' default runs psql in the container every
 * 250 ms for the container's whole life, which on a 2-core machine costs more
 * CPU than the tests themselves.
 */
export function postgresContainer() {
  return (
    new PostgreSqlContainer(POSTGRES_IMAGE)
      // Docker's way to turn a healthcheck off; the typings only know CMD forms.
      .withHealthCheck({ test: ['NONE'] as unknown as ['CMD', ...string[]] })
      .withWaitStrategy(
        Wait.forAll([
          Wait.forLogMessage(/database system is ready to accept connections/, 2),
          Wait.forListeningPorts(),
        ]),
      )
      .withLabels(labels())
  )
}

export function redisContainer() {
  return new RedisContainer(REDIS_IMAGE).withLabels(labels())
}

/** Removes every container of the test run `run`, wherever a test left it (killed on timeout, say). */
export async function removeTestRunContainers(run: string): Promise<number> {
  const docker = (await getContainerRuntimeClient()).container.dockerode
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${TEST_RUN_LABEL}=${run}`] } })
  await Promise.all(leftovers.map((info) => docker.getContainer(info.Id).remove({ force: true, v: true })))
  return leftovers.length
}

/**
 * Sets DATABASE_URL and REDIS_URL in `env` to containers started for them,
 * unless `env` has both already; returns whether it started any.
 */
export async function startTestServices(env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env.DATABASE_URL && env.REDIS_URL) return false
  const [postgres, redis] = await Promise.all([
    env.DATABASE_URL ? undefined : postgresContainer().start(),
    env.REDIS_URL ? undefined : redisContainer().start(),
  ])
  if (postgres) env.DATABASE_URL = postgres.getConnectionUri()
  if (redis) env.REDIS_URL = redis.getConnectionUrl()
  return true
}
