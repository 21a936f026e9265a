// `npm run bench`: load-tests the built app (dist/, as `npm start` runs it,
// every production feature on) on real Postgres and Redis, endpoint by
// endpoint, next to two ceilings: the same-work ceiling (bench/same-work.ts:
// the same SQL and Redis commands, none of the features around them) and the
// constant-body ceiling (bench/constant-body.ts: bare Fastify answering a
// constant body of the same size). Writes BENCHMARKS.md.
//   --costs      instead: where each route's CPU time goes (a CPU profile of the
//                app per route), and what switching a feature off gains
//   --before     with --costs: write the part for an older version, kept for
//                comparison (`cd ../old && node ../desafio3/scripts/bench.ts
//                --costs --before --output ../desafio3/BENCHMARKS.md`)
//   --soak <s>   instead: mixed traffic for that long, sampling the app's RSS
//   --client wrk use wrk (Debian's package) instead of autocannon
//   --rows <n>   instead: the users routes on a table of n users (built once in
//                a database of the bench's own, bench_rows_<n>, kept in the
//                Docker volume desafio3-bench-postgres, or on DATABASE_URL's
//                server) beside the same routes on the 10-row table
// Other options: --duration <s> (per run, 3), --rounds <n> (3), --warmup <s>
// (1), --connections <n> (32). Postgres and Redis: DATABASE_URL and REDIS_URL
// when both are set, else containers.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { hrtime } from 'node:process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import pg from 'pg'
import { freePort } from '../test/helpers/ports.ts'
import { postgresSettings, redisSettings } from '../test/helpers/settings.ts'
import { bigTable, DEPARTMENTS } from './bench/big-table.ts'
import { type Client, type Endpoint, load, type Result } from './bench/load.ts'
import { memory, type Started, startProcess, stopProcess } from './bench/processes.ts'
import { attribute, BUCKETS } from './bench/profile.ts'
import { markdownTable, writePart } from './bench/report.ts'
import { type Services, services, sql } from './bench/services.ts'

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    client: { type: 'string', default: 'autocannon' },
    costs: { type: 'boolean', default: false },
    before: { type: 'boolean', default: false },
    soak: { type: 'string' },
    rows: { type: 'string' },
    output: { type: 'string', default: 'BENCHMARKS.md' },
  },
})
// The ceilings run from beside this script; the app is the one in the current
// folder (so that another checkout, an older version say, can be measured with
// this bench: `cd ../old && node ../desafio3/scripts/bench.ts`).
const SAME_WORK = fileURLToPath(new URL('bench/same-work.ts', import.meta.url))
const CONSTANT_BODY = fileURLToPath(new URL('bench/constant-body.ts', import.meta.url))
const APP_WITH = fileURLToPath(new URL('bench/app-with.ts', import.meta.url))
// The app runs as `npm start` runs it (node's flags included), minus npm.
const START_ARGS: string[] = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start.split(' ').slice(1)
// The same-work ceiling runs with the same flags (heap sizes): the same garbage collector settings.
const NODE_FLAGS = START_ARGS.filter((arg) => arg.startsWith('--'))
const DURATION_S = Number(options.duration)
const WARMUP_S = Number(options.warmup)
const ROUNDS = Number(options.rounds)
const CONNECTIONS = Number(options.connections)
const CLIENT = options.client as Client
if (CLIENT !== 'autocannon' && CLIENT !== 'wrk') throw new Error('--client is autocannon or wrk')

const READ_KEY = 'bench:read'
const ENDPOINTS: Endpoint[] = [
  { name: 'GET /health/live', method: 'GET', path: '/health/live' },
  { name: 'GET /', method: 'GET', path: '/' },
  { name: 'GET /users', method: 'GET', path: '/users' },
  { name: 'GET /users/:id', method: 'GET', path: '/users/1' },
  { name: 'GET /cache/:key', method: 'GET', path: `/cache/${READ_KEY}` },
  {
    name: 'POST /cache',
    method: 'POST',
    path: '/cache',
    body: JSON.stringify({ key: 'bench:write', value: { name: 'João', n: 42 }, ttl: 60 }),
  },
  { name: 'GET /health', method: 'GET', path: '/health' },
]

const started = Date.now()
function log(message: string) {
  console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}`)
}

/**
 * The app's environment: production, info-level request logs, and a rate
 * limit that is active (every request counts in Redis) with a budget this
 * load does not spend. `overrides` switch features off.
 */
function appEnvironment(backends: Services, port: number, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    PORT: String(port),
    HOST: '127.0.0.1',
    ...postgresSettings(backends.databaseUrl),
    ...redisSettings(backends.redisUrl),
    RATE_LIMIT_MAX: '1000000',
    ...overrides,
  }
}

interface Server extends Started {
  url: (endpoint: Endpoint) => string
}

/** The app as `npm start` runs it; with `keyPrefix`, through bench/app-with.ts under that Redis key prefix. */
async function startApp(
  backends: Services,
  overrides: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = [],
  keyPrefix?: string,
) {
  const port = await freePort()
  const args = keyPrefix
    ? [...NODE_FLAGS, APP_WITH, JSON.stringify({ REDIS_KEY_PREFIX: keyPrefix })]
    : [...nodeFlags, ...START_ARGS]
  const started = await startProcess(args, appEnvironment(backends, port, overrides), port)
  const base = `http://127.0.0.1:${port}`
  await fetch(`${base}/cache`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: READ_KEY, value: { name: 'João', roles: ['admin', 'dev'], n: 42 }, ttl: 3600 }),
  })
  return { ...started, url: (endpoint: Endpoint) => `${base}${endpoint.path}` }
}

async function startSameWork(backends: Services): Promise<Server> {
  const port = await freePort()
  const started = await startProcess([...NODE_FLAGS, SAME_WORK, String(port)], appEnvironment(backends, port), port)
  return { ...started, url: (endpoint) => `http://127.0.0.1:${port}${endpoint.path}` }
}

const gitCommit = () => execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()

const slug = (name: string) => name.replace(/[^a-z]+/gi, '-').toLowerCase()

async function startConstantBody(sizes: Map<string, number>): Promise<Server> {
  const port = await freePort()
  const routes = [...sizes].map(([name, bytes]) => `${slug(name)}=${Math.round(bytes)}`)
  const started = await startProcess(
    [CONSTANT_BODY, String(port), ...routes],
    { PATH: process.env.PATH, NODE_ENV: 'production' },
    port,
    `/ceiling/${routes[0].split('=')[0]}`,
    'discarded',
  )
  return { ...started, url: (endpoint) => `http://127.0.0.1:${port}/ceiling/${slug(endpoint.name)}` }
}

const run = (server: Server, endpoint: Endpoint, seconds = DURATION_S) =>
  load(CLIENT, server.url(endpoint), endpoint, seconds, CONNECTIONS)
// The constant-body ceiling answers GETs only.
const asGet = (endpoint: Endpoint): Endpoint => ({ ...endpoint, method: 'GET', body: undefined })

/** Endpoints this version of the app answers with a 2xx; the others are left out. */
async function presentEndpoints(app: Server): Promise<Endpoint[]> {
  const present: Endpoint[] = []
  for (const endpoint of ENDPOINTS) {
    const res = await fetch(app.url(endpoint), {
      method: endpoint.method,
      body: endpoint.body,
      headers: endpoint.body ? { 'content-type': 'application/json' } : {},
    })
    if (res.status < 300) present.push(endpoint)
    else log(`${endpoint.name}: ${res.status}, left out`)
  }
  return present
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

function machine() {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim()}), Node.js ${process.version}, ${process.platform}`
}

async function bench(backends: Services) {
  const app = await startApp(backends)
  const sameWork = await startSameWork(backends)
  log(`app up (pid ${app.process.pid}), same-work ceiling up`)
  const present = await presentEndpoints(app)
  let served = 0
  const runApp = async (endpoint: Endpoint, seconds?: number) => {
    const result = await run(app, endpoint, seconds)
    served += result.requests
    return result
  }

  // Warm-up (JIT, pools, caches), which also gives each answer's size.
  const sizes = new Map<string, number>()
  for (const endpoint of present) {
    sizes.set(endpoint.name, (await runApp(endpoint, WARMUP_S)).bytes)
    await run(sameWork, endpoint, WARMUP_S)
  }
  const constant = await startConstantBody(sizes)
  for (const endpoint of present) await run(constant, asGet(endpoint), WARMUP_S)

  // Rounds of app, same-work, constant-body runs, endpoint after endpoint: a
  // slow spell of the machine lands on all three, and the median drops outliers.
  type Runs = { app: Result; sameWork: Result; constant: Result }
  const runs = new Map<string, Runs[]>(present.map((e) => [e.name, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const endpoint of present) {
      runs.get(endpoint.name)?.push({
        app: await runApp(endpoint),
        sameWork: await run(sameWork, endpoint),
        constant: await run(constant, asGet(endpoint)),
      })
    }
    log(`round ${round} of ${ROUNDS} done`)
  }
  const appMemory = memory(app.process.pid as number)
  await Promise.all([app, sameWork, constant].map((server) => stopProcess(server.process)))
  const logBytesPerRequest = (await app.logBytes) / Math.max(served, 1)

  const rows = present.map((endpoint) => {
    const pairs = runs.get(endpoint.name) ?? []
    const app = (field: keyof Result) => median(pairs.map((pair) => pair.app[field]))
    const ratio = (ceiling: 'sameWork' | 'constant') =>
      `${median(pairs.map((pair) => pair.app.requestsPerSecond / pair[ceiling].requestsPerSecond)).toFixed(2)}x`
    return [
      endpoint.name,
      app('requestsPerSecond').toFixed(0),
      app('p50').toFixed(1),
      app('p99').toFixed(1),
      String(pairs.reduce((sum, pair) => sum + pair.app.errors, 0)),
      String(Math.round(sizes.get(endpoint.name) ?? 0)),
      median(pairs.map((pair) => pair.sameWork.requestsPerSecond)).toFixed(0),
      median(pairs.map((pair) => pair.sameWork.p99)).toFixed(1),
      ratio('sameWork'),
      median(pairs.map((pair) => pair.constant.requestsPerSecond)).toFixed(0),
      ratio('constant'),
    ]
  })
  const table = markdownTable(
    [
      'endpoint',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'bytes/resp',
      'same-work req/s',
      'same-work p99 ms',
      'to same-work',
      'constant-body req/s',
      'to constant-body',
    ],
    rows,
  )
  const summary = [
    `${CONNECTIONS} connections (${CLIENT}), no pipelining; per endpoint ${WARMUP_S} s of warm-up, then ${ROUNDS} rounds`,
    `of ${DURATION_S} s on the app, the same-work ceiling and the constant-body ceiling, interleaved; each figure is the`,
    'median of the rounds (errors: their sum). The app runs as `npm start` runs it, every feature on (info-level request',
    'log, metrics, rate limit counting in Redis, security headers, request ids, timeouts). Load generator, servers,',
    `Postgres and Redis on the same machine: ${machine()}.`,
    `App peak RSS ${appMemory.peak.toFixed(0)} MiB (${appMemory.rss.toFixed(0)} MiB at the end); its log, read through a pipe`,
    `as Docker reads it, about ${logBytesPerRequest.toFixed(0)} bytes per request.`,
  ].join('\n')
  console.log(`\n${table}\n\n${summary}\n`)
  const date = new Date().toISOString().slice(0, 10)
  writePart(
    options.output,
    '# Benchmarks',
    [
      `The last \`npm run bench\` (${date}). Reproduce with \`npm run bench\`; the feature costs with`,
      '`npm run bench -- --costs`, the soak with `npm run bench -- --soak 60`.',
      '',
      table,
      '',
      summary,
    ].join('\n'),
  )
}

/** A CPU profile of the app under one endpoint's load: the share of each bucket, in µs per request. */
async function profileEndpoint(backends: Services, endpoint: Endpoint) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'))
  const app = await startApp(backends, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  await run(app, endpoint, WARMUP_S)
  const from = Number(hrtime.bigint() / 1000n)
  const result = await run(app, endpoint)
  const to = Number(hrtime.bigint() / 1000n)
  await stopProcess(app.process)
  const [file] = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))
  const { busyMs, shares } = attribute(join(dir, file), from, to)
  const usPerRequest = (busyMs * 1000) / Math.max(result.requests, 1)
  return { result, usPerRequest, shares }
}

// Features that a setting switches off, and what the app saves without them.
const SWITCHES: [feature: string, overrides: NodeJS.ProcessEnv][] = [
  ['request logging (LOG_LEVEL=warn)', { LOG_LEVEL: 'warn' }],
  ['rate limiting (RATE_LIMIT_MAX=0)', { RATE_LIMIT_MAX: '0' }],
]

async function costs(backends: Services) {
  const probe = await startApp(backends)
  const present = await presentEndpoints(probe)
  await stopProcess(probe.process)

  const profiles: Awaited<ReturnType<typeof profileEndpoint>>[] = []
  for (const endpoint of present) {
    profiles.push(await profileEndpoint(backends, endpoint))
    log(`${endpoint.name} profiled`)
  }
  const names = [...BUCKETS.map(([name]) => name), 'other']
  const cell = (share = 0, us: number) => `${(share * us).toFixed(1)} (${(share * 100).toFixed(0)}%)`
  const profileTable = markdownTable(
    ['CPU µs per request (share)', ...present.map((endpoint) => endpoint.name)],
    [
      ...names.map((name) => [
        name,
        ...profiles.map(({ shares, usPerRequest }) => cell(shares.get(name), usPerRequest)),
      ]),
      ['total', ...profiles.map(({ usPerRequest }) => usPerRequest.toFixed(1))],
    ],
  )

  const app = await startApp(backends)
  const rows: string[][] = []
  for (const [feature, overrides] of SWITCHES) {
    const without = await startApp(backends, overrides)
    const cells: string[] = []
    for (const endpoint of present) {
      await run(app, endpoint, WARMUP_S)
      await run(without, endpoint, WARMUP_S)
      const gains: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const on = await run(app, endpoint)
        const off = await run(without, endpoint)
        gains.push(off.requestsPerSecond / on.requestsPerSecond - 1)
      }
      const gain = median(gains)
      cells.push(`${gain >= 0 ? '+' : ''}${(gain * 100).toFixed(0)}%`)
    }
    await stopProcess(without.process)
    rows.push([feature, ...cells])
    log(`${feature} measured`)
  }
  await stopProcess(app.process)
  const switchTable = markdownTable(['req/s gained with it off', ...present.map((endpoint) => endpoint.name)], rows)

  const version = options.before ? `of an older version (commit ${gitCommit()}) ` : ''
  const body = [
    `The last \`npm run bench -- --costs\` ${version}(${new Date().toISOString().slice(0, 10)}), every feature on. Where each`,
    "route's CPU time goes: a CPU profile of the app (`node --cpu-prof`) during one run per route, its samples put",
    "into buckets by the code they were in (a function's own time; idle time left out), in µs of CPU per request.",
    'The profiler itself adds a little to every bucket. `redis client` and `postgres client` serve the route and the',
    'rate limiter alike; `socket writes` is the kernel work of every write (answers, Redis and Postgres commands).',
    '',
    profileTable,
    '',
    `Switching a feature off (paired runs, median of ${ROUNDS} rounds of ${DURATION_S} s, ${CLIENT}, ${CONNECTIONS} connections):`,
    '',
    switchTable,
  ].join('\n')
  console.log(`\n${body}\n`)
  writePart(options.output, options.before ? '## Feature costs before' : '## Feature costs', body)
}

async function soak(backends: Services, seconds: number) {
  const app = await startApp(backends)
  const samples: { at: number; rss: number }[] = []
  const pid = app.process.pid as number
  const sampler = setInterval(() => samples.push({ at: Date.now(), rss: memory(pid).rss }), 2000)
  // Mixed traffic: reads and writes on every route, new keys all the time.
  let n = 0
  const result = await autocannon({
    url: app.url({ name: '', method: 'GET', path: '' }),
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
  await stopProcess(app.process)
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
  writePart(options.output, '## Memory', line)
}

/** The users routes at a table's size: lists (pages of 10 and of 100, first and deep, all and one department), reads and writes. */
function dataScaleEndpoints(lastId: number, writeFrom: number): Endpoint[] {
  const deep = lastId > 1000 ? lastId - 1000 : Math.floor(lastId / 2)
  const department = DEPARTMENTS[3]
  const lists = [10, 100].flatMap((limit) => [
    { name: `GET /users?limit=${limit}`, path: `/users?limit=${limit}` },
    { name: `GET /users?after=(deep)&limit=${limit}`, path: `/users?after=${deep}&limit=${limit}` },
    {
      name: `GET /users?department=${department}&limit=${limit}`,
      path: `/users?department=${department}&limit=${limit}`,
    },
    {
      name: `GET /users?department=${department}&after=(deep)&limit=${limit}`,
      path: `/users?department=${department}&after=${deep}&limit=${limit}`,
    },
  ])
  const tag = Date.now().toString(36)
  const newUser = JSON.stringify({ username: `b${tag}n{n}`, email: `b${tag}n{n}@bench.example` })
  return [
    { name: 'GET /users', method: 'GET', path: '/users' },
    ...lists.map((list) => ({ ...list, method: 'GET' as const })),
    { name: 'GET /users?offset=1000&limit=10', method: 'GET', path: '/users?offset=1000&limit=10' },
    { name: 'GET /users/:id', method: 'GET', path: `/users/${deep}` },
    { name: 'POST /users', method: 'POST', path: '/users', body: newUser, firstN: 0 },
    {
      name: 'PATCH /users/:id',
      method: 'PATCH',
      path: '/users/{n}',
      body: '{"department":"Design"}',
      firstN: writeFrom,
    },
    { name: 'DELETE /users/:id', method: 'DELETE', path: '/users/{n}', firstN: writeFrom },
  ]
}

/** Users for PATCH and DELETE to work on, ids from the returned one up: more than a run can use. */
async function usersToWrite(databaseUrl: string, seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const tag = Date.now().toString(36)
    const { rows } = await client.query(
      `WITH added AS (
         INSERT INTO users (username, email, department)
         SELECT 'w' || $1 || 'n' || i, 'w' || $1 || 'n' || i || '@bench.example', 'QA' FROM generate_series(1, $2::int) AS i
         RETURNING id)
       SELECT min(id) AS first FROM added`,
      [tag, Math.ceil(seconds * 20_000)],
    )
    return rows[0].first
  } finally {
    await client.end()
  }
}

async function dataScale(backends: Services, rows: number) {
  const big = { ...backends, databaseUrl: await bigTable(backends.serverUrl, rows, log) }
  const tables = [
    { label: '10', backends, app: await startApp(backends, {}, [], 'bench:small:') },
    { label: rows.toLocaleString('en'), backends: big, app: await startApp(big, {}, [], 'bench:big:') },
  ]
  log('apps up, on the 10-row table and on the big one')
  const lastIds = await Promise.all(
    tables.map(async (table) => {
      const client = new pg.Client({ connectionString: table.backends.databaseUrl })
      await client.connect()
      const { rows } = await client.query('SELECT max(id) AS last FROM users')
      await client.end()
      return rows[0].last as number
    }),
  )
  // Writes leave each table as it was: their users are deleted after each run.
  const runOn = async (i: number, endpoint: Endpoint, seconds = DURATION_S) => {
    const { databaseUrl } = tables[i].backends
    const writeFrom = endpoint.path.startsWith('/users/{n}') ? await usersToWrite(databaseUrl, seconds) : 0
    const [scaled] = dataScaleEndpoints(lastIds[i], writeFrom).filter((e) => e.name === endpoint.name)
    const result = await run(tables[i].app, scaled, seconds)
    if (endpoint.method !== 'GET') await sql(databaseUrl, `DELETE FROM users WHERE id > ${lastIds[i]}`)
    return result
  }

  const endpoints = dataScaleEndpoints(0, 0)
  for (const endpoint of endpoints) for (const i of [0, 1]) await runOn(i, endpoint, WARMUP_S)
  const runs = new Map<string, [Result, Result][]>(endpoints.map((e) => [e.name, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const endpoint of endpoints) {
      // Which table goes first alternates from round to round.
      const [first, second] = round % 2 ? [0, 1] : [1, 0]
      const results = { [first]: await runOn(first, endpoint), [second]: await runOn(second, endpoint) }
      runs.get(endpoint.name)?.push([results[0], results[1]])
    }
    log(`round ${round} of ${ROUNDS} done`)
  }
  await Promise.all(tables.map(({ app }) => stopProcess(app.process)))

  // Each round's figures against GET /users on the 10-row table in the same round.
  const base = runs.get('GET /users') ?? []
  const rowsOut = endpoints.map((endpoint) => {
    const pairs = runs.get(endpoint.name) ?? []
    const figure = (i: 0 | 1, field: keyof Result) => median(pairs.map((pair) => pair[i][field]))
    const ratio = (field: 'requestsPerSecond' | 'p99', to: (round: number) => number) =>
      `${median(pairs.map((pair, round) => pair[1][field] / to(round))).toFixed(2)}x`
    return [
      endpoint.name,
      figure(0, 'requestsPerSecond').toFixed(0),
      figure(0, 'p99').toFixed(1),
      figure(1, 'requestsPerSecond').toFixed(0),
      figure(1, 'p99').toFixed(1),
      String(pairs.reduce((sum, pair) => sum + pair[1].errors, 0)),
      ratio('requestsPerSecond', (round) => pairs[round][0].requestsPerSecond),
      ratio('requestsPerSecond', (round) => base[round][0].requestsPerSecond),
      ratio('p99', (round) => base[round][0].p99),
    ]
  })
  const big10 = tables[1].label
  const table = markdownTable(
    [
      'request',
      '10 rows req/s',
      '10 rows p99 ms',
      `${big10} req/s`,
      `${big10} p99 ms`,
      `${big10} errors`,
      'req/s to the same, 10 rows',
      'req/s to GET /users, 10 rows',
      'p99 to GET /users, 10 rows',
    ],
    rowsOut,
  )
  const summary = [
    `Two apps, as \`npm start\` runs them (every feature on), on one Postgres and one Redis: one on the 10-row table,`,
    `one on ${big10} users (five departments, ${DEPARTMENTS[3]} a fifth of them; deep pages start 1,000 ids before`,
    `the last). ${CONNECTIONS} connections (${CLIENT}); per request ${WARMUP_S} s of warm-up on each, then ${ROUNDS} rounds of ${DURATION_S} s,`,
    'the two tables one after the other (which one first alternates); medians of the rounds (errors: their sum, any',
    'answer outside 2xx). The ratios: the big table against the same request on the 10-row table, and against',
    'GET /users on the 10-row table (its 10 users), in the same round: pages of 10 are of its size, pages of 100',
    '(the default limit, so also GET /users) ten times it. PATCH moves a user to another department; PATCH and',
    'DELETE work on users added before each run, and every write run ends by deleting what it added.',
    `Machine: ${machine()}.`,
  ].join('\n')
  console.log(`\n${table}\n\n${summary}\n`)
  writePart(
    options.output,
    '## Data scale',
    [
      `The last \`npm run bench -- --rows ${rows}\` (${new Date().toISOString().slice(0, 10)}).`,
      '',
      table,
      '',
      summary,
    ].join('\n'),
  )
}

const backends = await services({ kept: options.rows !== undefined })
log('services ready')
try {
  if (options.rows) await dataScale(backends, Number(options.rows))
  else if (options.soak) await soak(backends, Number(options.soak))
  else if (options.costs) await costs(backends)
  else await bench(backends)
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${options.output}`)
} finally {
  await backends.stop()
}
