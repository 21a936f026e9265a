// `npm run bench`: load-tests the built app (dist/, production mode, info-level
// logs) on real Postgres and Redis, endpoint by endpoint, at 32 connections
// without pipelining, next to a ceiling: bare Fastify answering a constant body
// of the same size. Prints a table and writes it to BENCHMARKS.md.
// Postgres and Redis: DATABASE_URL and REDIS_URL when both are set, else containers.
// Options: --duration <s> (per run, default 3), --rounds <n> (default 3),
// --warmup <s> (default 1), --soak <s> (instead: mixed
// traffic for that long, sampling the server's RSS, to show whether it grows).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import pg from 'pg'
import { GenericContainer, Wait } from 'testcontainers'
import { POSTGRES_IMAGE, REDIS_IMAGE } from '../test/containers.ts'
import { freePort } from '../test/ports.ts'

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    soak: { type: 'string' },
    output: { type: 'string', default: 'BENCHMARKS.md' },
  },
})
// The app runs as `npm start` runs it (node's flags included), minus npm.
const START_ARGS: string[] = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start.split(' ').slice(1)
const DURATION_S = Number(options.duration)
const WARMUP_S = Number(options.warmup)
const ROUNDS = Number(options.rounds)
const CONNECTIONS = Number(options.connections)

interface Endpoint {
  name: string
  method: 'GET' | 'POST'
  path: string
  body?: string
}

interface Result {
  requestsPerSecond: number
  p50: number
  p99: number
  errors: number
  bytes: number
}

const started = Date.now()
const children: ChildProcess[] = []
const cleanups: (() => Promise<unknown>)[] = []
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function log(message: string) {
  console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}`)
}

/**
 * Postgres and Redis on the host's network, listening on 127.0.0.1 only: the
 * app reaches them directly, as web reaches db and cache on compose's network.
 * (Through published ports, Docker's userland proxy would relay every packet
 * and take about a third of a core under this load.)
 */
async function hostNetworkServices(): Promise<{ postgresUrl: string; redisUrl: string }> {
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
  cleanups.push(
    () => postgres.stop(),
    () => redis.stop(),
  )
  return {
    postgresUrl: `postgres://postgres:bench@127.0.0.1:${pgPort}/postgres`,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
  }
}

async function services(): Promise<{ databaseUrl: string; redisUrl: string }> {
  const containers = process.env.DATABASE_URL && process.env.REDIS_URL ? undefined : await hostNetworkServices()
  const serverUrl = process.env.DATABASE_URL ?? containers?.postgresUrl ?? ''
  // A database of its own, so the bench never touches anyone's data.
  const database = `bench_${process.pid}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${database}`)
  await admin.end()
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: serverUrl })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await client.end()
  })
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return { databaseUrl: url.toString(), redisUrl: process.env.REDIS_URL ?? containers?.redisUrl ?? '' }
}

/** Starts a node process whose stdout (the logs) goes to /dev/null; waits for the port to answer. */
async function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  probePath = '/health/live',
): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`)
    try {
      await fetch(`http://127.0.0.1:${port}${probePath}`)
      return child
    } catch {
      if (Date.now() > deadline) throw new Error(`${args.join(' ')} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

async function stopProcess(child: ChildProcess) {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

/** The server's resident set size now and at its peak (VmHWM), in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
}

async function load(url: string, endpoint: Endpoint, seconds: number): Promise<Result> {
  const result = await autocannon({
    url,
    method: endpoint.method,
    body: endpoint.body,
    headers: endpoint.body ? { 'content-type': 'application/json' } : {},
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
  })
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    bytes: result.throughput.average / Math.max(result.requests.average, 1),
  }
}

/** A Markdown table with aligned columns (as the formatter writes it): text left, numbers right. */
function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(3, title.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`
  const rule = `| ${widths.map((width, i) => (i === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`
  const title = `| ${header.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`
  return [title, rule, ...rows.map(line)].join('\n')
}

function machine() {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim()}), Node.js ${process.version}, ${process.platform}`
}

async function bench() {
  const { databaseUrl, redisUrl } = await services()
  log('services ready')
  const appPort = await freePort()
  const appEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    PORT: String(appPort),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'bench:',
    // One client address sends everything here: a limit would only measure 429s.
    RATE_LIMIT_MAX: '0',
  }
  const app = await startProcess(START_ARGS, appEnv, appPort)
  const base = `http://127.0.0.1:${appPort}`
  log(`app up (pid ${app.pid})`)

  await fetch(`${base}/cache`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'bench:read', value: { name: 'João', roles: ['admin', 'dev'], n: 42 }, ttl: 3600 }),
  })
  const endpoints: Endpoint[] = [
    { name: 'GET /', method: 'GET', path: '/' },
    { name: 'GET /users', method: 'GET', path: '/users' },
    { name: 'GET /users/:id', method: 'GET', path: '/users/1' },
    { name: 'GET /cache/:key', method: 'GET', path: '/cache/bench:read' },
    {
      name: 'POST /cache',
      method: 'POST',
      path: '/cache',
      body: JSON.stringify({ key: 'bench:write', value: { name: 'João', n: 42 }, ttl: 60 }),
    },
    { name: 'GET /health', method: 'GET', path: '/health' },
  ]
  // Endpoints this version of the app does not have are left out.
  const present: Endpoint[] = []
  for (const endpoint of endpoints) {
    const res = await fetch(`${base}${endpoint.path}`, {
      method: endpoint.method,
      body: endpoint.body,
      headers: endpoint.body ? { 'content-type': 'application/json' } : {},
    })
    if (res.status < 300) present.push(endpoint)
    else log(`${endpoint.name}: ${res.status}, left out`)
  }

  // Warm-up (JIT, pools, caches), which also gives each answer's size.
  const sizes = new Map<string, number>()
  for (const endpoint of present) {
    sizes.set(endpoint.name, (await load(`${base}${endpoint.path}`, endpoint, WARMUP_S)).bytes)
  }

  // The ceiling: bare Fastify, same logging, constant bodies of the same sizes.
  const ceilingPort = await freePort()
  const slug = (name: string) => name.replace(/[^a-z]+/gi, '-').toLowerCase()
  const ceilingUrl = (endpoint: Endpoint) => `http://127.0.0.1:${ceilingPort}/ceiling/${slug(endpoint.name)}`
  const ceiling = await startProcess(
    [
      'scripts/bench-ceiling.ts',
      String(ceilingPort),
      ...present.map((e) => `${slug(e.name)}=${Math.round(sizes.get(e.name) ?? 0)}`),
    ],
    { PATH: process.env.PATH, NODE_ENV: 'production' },
    ceilingPort,
    `/ceiling/${slug(present[0].name)}`,
  )
  for (const endpoint of present)
    await load(ceilingUrl(endpoint), { ...endpoint, method: 'GET', body: undefined }, WARMUP_S)

  // Rounds of app-then-ceiling pairs, endpoint after endpoint: a slow spell of
  // the machine lands on both sides of a pair, and the median drops outliers.
  const runs = new Map<string, { app: Result; ceiling: Result }[]>(present.map((e) => [e.name, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const endpoint of present) {
      const appResult = await load(`${base}${endpoint.path}`, endpoint, DURATION_S)
      const ceilingResult = await load(
        ceilingUrl(endpoint),
        { ...endpoint, method: 'GET', body: undefined },
        DURATION_S,
      )
      runs.get(endpoint.name)?.push({ app: appResult, ceiling: ceilingResult })
    }
    log(`round ${round} of ${ROUNDS} done`)
  }
  const appMemory = memory(app.pid as number)
  await stopProcess(app)
  await stopProcess(ceiling)

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const rows = present.map((endpoint) => {
    const pairs = runs.get(endpoint.name) ?? []
    const app = (field: keyof Result) => median(pairs.map((pair) => pair.app[field]))
    return [
      endpoint.name,
      app('requestsPerSecond').toFixed(0),
      String(app('p50')),
      String(app('p99')),
      String(pairs.reduce((sum, pair) => sum + pair.app.errors, 0)),
      String(Math.round(sizes.get(endpoint.name) ?? 0)),
      median(pairs.map((pair) => pair.ceiling.requestsPerSecond)).toFixed(0),
      `${median(pairs.map((pair) => pair.app.requestsPerSecond / pair.ceiling.requestsPerSecond)).toFixed(2)}x`,
    ]
  })
  const table = markdownTable(
    ['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'bytes/resp', 'ceiling req/s', 'ratio to ceiling'],
    rows,
  )
  const summary = [
    `${CONNECTIONS} connections, no pipelining; per endpoint ${WARMUP_S} s of warm-up, then ${ROUNDS} rounds of ${DURATION_S} s`,
    'on the app then on the ceiling, interleaved; each figure is the median of the rounds (errors: their sum); load generator',
    `(autocannon), server, Postgres and Redis on the same machine: ${machine()}.`,
    `Server peak RSS ${appMemory.peak.toFixed(0)} MiB (${appMemory.rss.toFixed(0)} MiB at the end).`,
  ].join('\n')
  console.log(`\n${table}\n\n${summary}\n`)
  return { table, summary }
}

async function soak(seconds: number) {
  const { databaseUrl, redisUrl } = await services()
  const port = await freePort()
  const app = await startProcess(
    START_ARGS,
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      RATE_LIMIT_MAX: '0',
    },
    port,
  )
  const samples: { at: number; rss: number }[] = []
  const sampler = setInterval(() => samples.push({ at: Date.now(), rss: memory(app.pid as number).rss }), 2000)
  // Mixed traffic: reads and writes on every route, new keys all the time.
  let n = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      { method: 'GET', path: '/users' },
      { method: 'GET', path: '/users/1' },
      {
        method: 'POST',
        path: '/cache',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ key: `soak:${n++ % 10_000}`, value: { n, text: 'x'.repeat(200) }, ttl: 30 }),
        }),
      },
      { method: 'GET', path: '/cache/soak:1' },
      { method: 'GET', path: '/health' },
    ],
  })
  clearInterval(sampler)
  await stopProcess(app)
  // Least-squares slope of RSS over time, after the first quarter (warm-up, JIT, pools).
  const steady = samples.slice(Math.floor(samples.length / 4))
  const t0 = steady[0].at
  const xs = steady.map((s) => (s.at - t0) / 60_000)
  const ys = steady.map((s) => s.rss)
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
  const [mx, my] = [mean(xs), mean(ys)]
  const slope =
    xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i] - my), 0) / xs.reduce((acc, x) => acc + (x - mx) ** 2, 0)
  const line =
    `Soak: ${seconds} s of mixed traffic, ${result.requests.total} requests (${result.requests.average.toFixed(0)} req/s), ` +
    `${result.errors + result.non2xx} errors; RSS ${ys[0].toFixed(0)} → ${ys[ys.length - 1].toFixed(0)} MiB ` +
    `(min ${Math.min(...ys).toFixed(0)}, max ${Math.max(...ys).toFixed(0)}), trend ${slope.toFixed(2)} MiB/min after warm-up.`
  console.log(`\n${line}\n`)
  return line
}

// BENCHMARKS.md: the bench's part, then `## Memory` with the soak's line; each
// run rewrites its own part and keeps the other.
const MEMORY_HEADING = '## Memory'

function writeReport(part: { bench?: string; soak?: string }) {
  let current = ''
  try {
    current = readFileSync(options.output, 'utf8')
  } catch {}
  const at = current.indexOf(`\n${MEMORY_HEADING}\n`)
  const bench = part.bench ?? (at >= 0 ? current.slice(0, at) : current).trim()
  const soak = part.soak ?? (at >= 0 ? current.slice(at + MEMORY_HEADING.length + 2).trim() : '')
  writeFileSync(options.output, `${[bench, soak && `${MEMORY_HEADING}\n\n${soak}`].filter(Boolean).join('\n\n')}\n`)
}

try {
  if (options.soak) {
    writeReport({ soak: await soak(Number(options.soak)) })
  } else {
    const { table, summary } = await bench()
    const date = new Date().toISOString().slice(0, 10)
    writeReport({
      bench: [
        '# Benchmarks',
        `The last \`npm run bench\` (${date}). Reproduce with \`npm run bench\`; the soak with \`npm run bench -- --soak 60\`.`,
        table,
        summary,
      ].join('\n\n'),
    })
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${options.output}`)
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  // Last in, first out: the database is dropped before its server stops.
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
}
