import { randomUUID } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import pg from 'pg'
import tap, { type Test } from 'tap'
import { type Config, loadConfig, TUNING, type Tuning } from '../../lib/config.ts'
import { buildServer } from '../../src/build.ts'
import { postgresSettings, redisSettings } from './settings.ts'

export { freePort } from './ports.ts'

export interface Services {
  /** A database of this test file's own, on the shared or the file's server. */
  databaseUrl: string
  redisUrl: string
}

export type Server = Awaited<ReturnType<typeof buildServer>>

let fileServices: Promise<Services> | undefined

/**
 * Postgres and Redis for this test file. With DATABASE_URL and REDIS_URL set,
 * those servers are used and no container starts; otherwise testcontainers
 * starts one of each for the file. Either way the file gets a fresh database,
 * so files can run in parallel against one server.
 */
export function services(): Promise<Services> {
  fileServices ??= startServices()
  return fileServices
}

async function startServices(): Promise<Services> {
  const [serverUrl, redisUrl] = await Promise.all([postgresServerUrl(), redisServerUrl()])
  return { databaseUrl: await freshDatabase(serverUrl), redisUrl }
}

async function postgresServerUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL
  // testcontainers takes half a second of CPU to import: only when it is used.
  const { postgresContainer } = await import('./containers.ts')
  const container = await postgresContainer().start()
  tap.teardown(() => container.stop())
  return container.getConnectionUri()
}

async function redisServerUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL
  const { redisContainer } = await import('./containers.ts')
  const container = await redisContainer().start()
  tap.teardown(() => container.stop())
  return container.getConnectionUrl()
}

/** Creates an empty database on the server behind `serverUrl`; dropped when the file ends. */
export async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `test_${randomUUID().replaceAll('-', '')}`
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  tap.teardown(() => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

export interface LogLine {
  level: number
  msg: string
  requestId?: string
  [field: string]: unknown
}

/** Gathers an app's JSON log lines: pass it to `build()`, read `lines`. */
export function logCollector() {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, stream }
}

export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const

/**
 * For tests that check behaviour rather than timing: the default bounds (1 s to
 * connect, to run a Redis command; 250 ms for the rate limiter's count) are
 * tight on a busy machine, where a miss would turn into a 503, a cache bypass or
 * an unlimited request the test did not ask for.
 */
export const RELAXED_TIMEOUTS = {
  DB_CONNECT_TIMEOUT_MS: '5000',
  DB_STATEMENT_TIMEOUT_MS: '5000',
  REDIS_COMMAND_TIMEOUT_MS: '3000',
  RATE_LIMIT_STORE_TIMEOUT_MS: '2000',
}

/**
 * Load shedding off: a test process builds many apps and does heavy synchronous
 * work (schemas, property runs) on a shared CPU, which is not the overload the
 * shedding is for. test/overload.test.ts sets it explicitly.
 */
const NO_LOAD_SHEDDING = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0' }

/**
 * The real application on this file's Postgres and Redis, ready, closed when
 * `t` ends. `env` overrides the configuration (see `overrides`). Each call gets
 * its own Redis key prefix, so tests never see each other's keys. With `logs`,
 * the app logs at info (or env's LOG_LEVEL) into it.
 */
export async function build(
  t: Test,
  env: Record<string, string> = {},
  { logs }: { logs?: ReturnType<typeof logCollector> } = {},
): Promise<Server> {
  const config = await testConfig({ ...(logs ? { LOG_LEVEL: 'info' } : {}), ...env })
  const server = await buildServer(config, logs ? { stream: logs.stream } : {})
  t.teardown(() => server.close())
  await server.ready()
  return server
}

/**
 * A test's configuration, in one record of strings: settings by their
 * variable (as the process env), the constants of TUNING by their name, and
 * DATABASE_URL or REDIS_URL for where the services are (the servers the test
 * started, as testcontainers gives their addresses). Split into the settings
 * and the constants `loadConfig` takes.
 */
export function overrides(env: Record<string, string>): { settings: Record<string, string>; tuning: Partial<Tuning> } {
  const settings: Record<string, string> = {}
  const tuning: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(env)) {
    if (name === 'DATABASE_URL') Object.assign(settings, postgresSettings(value))
    else if (name === 'REDIS_URL') Object.assign(settings, redisSettings(value))
    else if (name in TUNING) {
      const kind = typeof TUNING[name as keyof Tuning]
      tuning[name] = kind === 'number' ? Number(value) : kind === 'boolean' ? value === 'true' : value
    } else settings[name] = value
  }
  return { settings, tuning: tuning as Partial<Tuning> }
}

/**
 * The configuration `build` uses: this file's services, a unique key prefix,
 * quiet logs, relaxed timeouts (see RELAXED_TIMEOUTS; the tests of those bounds
 * set them explicitly), no load shedding (NO_LOAD_SHEDDING), then `env`.
 */
export async function testConfig(env: Record<string, string> = {}): Promise<Config> {
  const { databaseUrl, redisUrl } = await services()
  const { settings, tuning } = overrides({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...RELAXED_TIMEOUTS,
    ...NO_LOAD_SHEDDING,
    ...env,
  })
  return loadConfig(settings, tuning)
}

export interface TcpProxy {
  /** `host:port` to connect to instead of the target. */
  address: string
  /** Drops every connection and refuses new ones: the target becomes unreachable, with its data intact. */
  cut(): void
  /** Lets connections through again. */
  restore(): void
  /** Keeps every connection open but forwards nothing more: the target hangs, as a paused server does. */
  stall(): void
}

/**
 * A TCP proxy to `target` (`host:port`) that a test can cut and restore, to take
 * a service away from one client, mid-test, without stopping the service.
 */
export async function tcpProxy(t: Test, target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(`tcp://${target}`)
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  let open = true
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = createServer((client) => {
    if (!open) return client.destroy()
    const upstream = connect(Number(port), hostname)
    track(client)
    track(upstream)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.on('close', () => {
      pairs.delete(pair)
      upstream.destroy()
    })
    upstream.on('close', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    cut() {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      open = true
    },
    stall() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
  }
}
