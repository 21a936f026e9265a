// Postgres and Redis for the bench: DATABASE_URL and REDIS_URL when both are
// set, else containers of its own; either way a database of the bench's own.
import pg from 'pg'
import { GenericContainer, Wait } from 'testcontainers'
import { POSTGRES_IMAGE, REDIS_IMAGE } from '../../test/containers.ts'
import { freePort } from '../../test/ports.ts'

export interface Services {
  databaseUrl: string
  redisUrl: string
  /** Drops the database and stops what was started. */
  stop(): Promise<void>
}

/**
 * Postgres and Redis on the host's network, listening on 127.0.0.1 only: the
 * app reaches them directly, as web reaches db and cache on compose's network.
 * (Through published ports, Docker's userland proxy would relay every packet
 * and take about a third of a core under this load.)
 */
async function hostNetworkContainers() {
  const [pgPort, redisPort] = [await freePort(), await freePort()]
  const [postgres, redis] = await Promise.all([
    new GenericContainer(POSTGRES_IMAGE)
      .withNetworkMode('host')
      .withEnvironment({ POSTGRES_PASSWORD: 'bench' })
      .withCommand(['postgres', '-c', `port=${pgPort}`, '-c', 'listen_addresses=127.0.0.1'])
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
    new GenericContainer(REDIS_IMAGE)
      .withNetworkMode('host')
      .withCommand(['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', ''])
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start(),
  ])
  return {
    postgresUrl: `postgres://postgres:bench@127.0.0.1:${pgPort}/postgres`,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    stop: async () => {
      await Promise.all([postgres.stop(), redis.stop()])
    },
  }
}

async function sql(serverUrl: string, statement: string) {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

export async function services(): Promise<Services> {
  const given = process.env.DATABASE_URL && process.env.REDIS_URL
  const containers = given ? undefined : await hostNetworkContainers()
  const serverUrl = process.env.DATABASE_URL ?? containers?.postgresUrl ?? ''
  // A database of its own, so the bench never touches anyone's data.
  const database = `bench_${process.pid}`
  await sql(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await sql(serverUrl, `CREATE DATABASE ${database}`)
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return {
    databaseUrl: url.toString(),
    redisUrl: process.env.REDIS_URL ?? containers?.redisUrl ?? '',
    stop: async () => {
      await sql(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
      await containers?.stop()
    },
  }
}
