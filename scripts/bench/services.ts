// Postgres and Redis for the bench: DATABASE_URL and REDIS_URL when both are
// set, else containers of its own; either way a database of the bench's own.
// With `kept`, the Postgres container keeps its data in a Docker volume
// (KEPT_POSTGRES), for a big table built once and used again by later runs.
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { GenericContainer, Wait } from 'testcontainers'
import { POSTGRES_IMAGE, REDIS_IMAGE } from '../../test/helpers/containers.ts'
import { freePort } from '../../test/helpers/ports.ts'

export interface Services {
  /** The Postgres server (its `postgres` database). */
  serverUrl: string
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
async function hostNetworkContainers(kept: boolean) {
  const [pgPort, redisPort] = [await freePort(), await freePort()]
  const [postgres, redis] = await Promise.all([
    kept
      ? keptPostgres(pgPort)
      : new GenericContainer(POSTGRES_IMAGE)
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

/** The kept Postgres's container, and the volume that holds its data. */
const KEPT_POSTGRES = 'desafio3-bench-postgres'
const KEPT_LABEL = 'desafio3.bench=kept-postgres'

/**
 * A Postgres whose data lives in the volume KEPT_POSTGRES. The container is
 * made anew for each run (on a port free now) and removed at its end; the
 * volume stays.
 */
async function keptPostgres(port: number) {
  const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim()
  // An earlier run's container left behind (the bench killed): only ever one with the bench's label.
  if (docker('ps', '-aq', '--filter', `name=^${KEPT_POSTGRES}$`, '--filter', `label=${KEPT_LABEL}`)) {
    docker('rm', '-f', KEPT_POSTGRES)
  }
  docker(
    'run',
    '-d',
    '--name',
    KEPT_POSTGRES,
    '--label',
    KEPT_LABEL,
    '--network',
    'host',
    '--volume',
    `${KEPT_POSTGRES}:/var/lib/postgresql/data`,
    '--env',
    'POSTGRES_PASSWORD=bench',
    POSTGRES_IMAGE,
    'postgres',
    '-c',
    `port=${port}`,
    '-c',
    'listen_addresses=127.0.0.1',
  )
  // Listening on TCP only once initdb (on a new volume) is done.
  for (const deadline = Date.now() + 120_000; ; await sleep(250)) {
    try {
      await sql(`postgres://postgres:bench@127.0.0.1:${port}/postgres`, 'SELECT 1')
      break
    } catch (err) {
      if (Date.now() > deadline) throw err
    }
  }
  // Stopped cleanly (a checkpoint, no recovery at the next start), then removed; the volume stays.
  return {
    stop: async () => {
      docker('stop', '--timeout', '120', KEPT_POSTGRES)
      docker('rm', KEPT_POSTGRES)
    },
  }
}

export async function sql(serverUrl: string, statement: string) {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

export async function services({ kept = false } = {}): Promise<Services> {
  const given = process.env.DATABASE_URL && process.env.REDIS_URL
  const containers = given ? undefined : await hostNetworkContainers(kept)
  const serverUrl = process.env.DATABASE_URL ?? containers?.postgresUrl ?? ''
  // A database of its own, so the bench never touches anyone's data.
  const database = `bench_${process.pid}`
  await sql(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await sql(serverUrl, `CREATE DATABASE ${database}`)
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return {
    serverUrl,
    databaseUrl: url.toString(),
    redisUrl: process.env.REDIS_URL ?? containers?.redisUrl ?? '',
    stop: async () => {
      await sql(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
      await containers?.stop()
    },
  }
}
