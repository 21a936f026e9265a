// `npm run test:compose`, second part: the development loop of
// compose.dev.yaml, end to end, in a copy of the project (the real tree is
// never edited), under the Compose project desafio3-dev-e2e on free ports of
// 127.0.0.1. Runs the README's `docker compose -f compose.dev.yaml up --watch`,
// edits a route and sees the running API serve the change, changes
// package.json and sees web's image rebuilt, and checks that the stack's
// Postgres and Redis answer on this machine's loopback (`npm test` runs a file
// against them) and on no other address. Prints the figures; always ends with
// `down -v`, removing the image it built.
//
// Like the other scenarios, one whose steps build on each other: once a step
// fails the rest are skipped. Needs Docker, Docker Compose v2 and git.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import { eventually } from '../helpers/eventually.ts'
import { freePort } from '../helpers/ports.ts'
import {
  COMPOSE,
  connectTo,
  otherAddresses,
  README,
  type RunOptions,
  run,
  scenario,
  startFigures,
  waitHealthy,
} from './stack.ts'

const PROJECT = 'desafio3-dev-e2e'
const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url))
const UP_WATCH = README.devUpWatch
// The bound for an edit to be served; the figure is printed.
const EDIT_SERVED_WITHIN_MS = 10_000
const READY_WITHIN_MS = 240_000
const REBUILT_WITHIN_MS = 10 * 60_000
const ROUTE = 'routes/root.ts'
const SERVICE_NAME = "service: 'Desafio 3 - Docker Compose'"

const runId = randomBytes(4).toString('hex')
const secret = () => `e2e-${randomBytes(12).toString('hex')}`
const started = Date.now()
const figures: string[] = []
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

let copy = ''
let env: NodeJS.ProcessEnv = {}
let web = ''
let upWatch: ChildProcess | undefined
let upWatchOutput = ''

/** Docker Compose in the copy, for the development stack. */
function compose(args: string[], options: RunOptions = {}) {
  const [file, ...prefix] = COMPOSE
  return run('bash', ['-c', 'cd "$0" && exec "$@"', copy, file, ...prefix, '-f', 'compose.dev.yaml', ...args], {
    env,
    timeoutMs: 180_000,
    ...options,
  })
}

const step = scenario(async () => {
  if (!copy) return
  console.error(`--- ${UP_WATCH} (last 4000 characters)\n${upWatchOutput.slice(-4000)}`)
  const ps = await compose(['ps', '-a']).catch((err) => ({ stdout: String(err) }))
  console.error(`--- docker compose ps -a\n${ps.stdout}`)
})

after(async () => {
  if (upWatch && upWatch.exitCode === null) upWatch.kill('SIGKILL')
  if (copy) {
    await compose(['down', '-v', '--rmi', 'local', '--remove-orphans']).catch(console.error)
    await rm(copy, { recursive: true, force: true })
  }
  figures.push(`dev e2e duration: ${seconds(Date.now() - started)}`)
  console.log(figures.map((line) => `# ${line}`).join('\n'))
})

async function info(): Promise<{ service: string; version: string }> {
  const res = await fetch(`http://127.0.0.1:${env.WEB_PORT}/`, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200)
  return (await res.json()) as { service: string; version: string }
}

/** Polls GET / every 100 ms until `served` holds for its answer; the milliseconds it took. */
async function untilServed(served: (answer: { service: string; version: string }) => boolean, timeoutMs: number) {
  const t0 = Date.now()
  for (;;) {
    const answer = await info().catch(() => undefined)
    if (answer && served(answer)) return Date.now() - t0
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`not served within ${timeoutMs} ms (last: ${JSON.stringify(answer)})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function webContainer(): Promise<{ id: string; image: string }> {
  const { stdout } = await compose(['ps', '-q', 'web'])
  const id = stdout.trim()
  assert.ok(id, 'web runs')
  const image = (await run('docker', ['inspect', '-f', '{{.Image}}', id])).stdout.trim()
  return { id, image }
}

step('a copy of the project (what git tracks, and new files), free ports', async () => {
  const { stdout: version } = await run(COMPOSE[0], [...COMPOSE.slice(1), 'version'])
  figures.push(...startFigures(version))
  copy = await mkdtemp(join(tmpdir(), 'desafio3-dev-'))
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'])
  const files = stdout.split('\0').filter(Boolean)
  for (const file of files) {
    await mkdir(join(copy, dirname(file)), { recursive: true })
    await cp(join(PROJECT_DIR, file), join(copy, file), { preserveTimestamps: true }).catch((err) => {
      // A file git lists but the tree no longer has (deleted, not yet committed).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    })
  }
  env = {
    ...process.env,
    COMPOSE_PROJECT_NAME: PROJECT,
    WEB_PORT: String(await freePort()),
    DEV_POSTGRES_PORT: String(await freePort()),
    DEV_REDIS_PORT: String(await freePort()),
    POSTGRES_PASSWORD: secret(),
    REDIS_PASSWORD: secret(),
    LOG_LEVEL: 'info',
  }
  for (const name of ['COMPOSE_FILE', 'WEB_PUBLISH_ADDRESS', 'WEB_IMAGE']) delete env[name]
  figures.push(`copy: ${files.length} files in ${copy}`)
  // What an interrupted earlier run may have left.
  await compose(['down', '-v', '--remove-orphans'])
})

step(`the README's \`${UP_WATCH}\`: the stack starts, web serves from its sources`, async () => {
  const t0 = Date.now()
  const [file, ...args] = UP_WATCH.split(' ')
  upWatch = spawn(file, args, { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'] })
  for (const stream of [upWatch.stdout, upWatch.stderr]) {
    stream?.on('data', (chunk) => {
      upWatchOutput += chunk
    })
  }
  const exited = new Promise<never>((_, reject) =>
    upWatch?.once('exit', (code) => reject(new Error(`${UP_WATCH} exited ${code}`))),
  )
  await Promise.race([untilServed(() => true, READY_WITHIN_MS), exited])
  const ids = (await compose(['ps', '-q'])).stdout.trim().split('\n')
  await waitHealthy(ids, READY_WITHIN_MS - (Date.now() - t0))
  figures.push(`time to serving, db, cache and web healthy (dev image from cached layers): ${seconds(Date.now() - t0)}`)
  assert.match(upWatchOutput, /Watch enabled/, 'Compose watches the sources')
  web = (await webContainer()).id
})

step("its Postgres and Redis answer on this machine's loopback only: npm test runs against them", async () => {
  const ports = { db: Number(env.DEV_POSTGRES_PORT), cache: Number(env.DEV_REDIS_PORT) }
  for (const [service, port] of Object.entries(ports)) {
    const target = service === 'db' ? 5432 : 6379
    const { stdout } = await compose(['port', service, String(target)])
    assert.equal(stdout.trim(), `127.0.0.1:${port}`, `${service} published on 127.0.0.1 only`)
    for (const address of otherAddresses()) {
      assert.notEqual(await connectTo(address, port), 'connected', `${service}'s port does not answer on ${address}`)
    }
  }
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ports.db,
    user: 'postgres',
    password: env.POSTGRES_PASSWORD,
    database: 'desafio3',
  })
  await client.connect()
  try {
    const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM users')
    assert.equal(rows[0].count, '10', 'the seed users, through the published port')
  } finally {
    await client.end()
  }
  const redis = new Redis({ host: '127.0.0.1', port: ports.cache, password: env.REDIS_PASSWORD, lazyConnect: true })
  try {
    await redis.connect()
    assert.equal(await redis.ping(), 'PONG')
  } finally {
    redis.disconnect()
  }
  // A test file of the real tree (read, not changed) against the development stack's servers.
  const t0 = Date.now()
  const databaseUrl = `postgres://postgres:${env.POSTGRES_PASSWORD}@127.0.0.1:${ports.db}/desafio3`
  const redisUrl = `redis://:${env.REDIS_PASSWORD}@127.0.0.1:${ports.cache}`
  await run('npm', ['test', '--', 'test/users-crud.test.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
    timeoutMs: 180_000,
  })
  figures.push(
    `db and cache on 127.0.0.1:${ports.db} and 127.0.0.1:${ports.cache} only; ` +
      `npm test -- test/users-crud.test.ts against them passed in ${seconds(Date.now() - t0)}`,
  )
})

step(
  `a route edited in the copy: the running API serves the change within ${EDIT_SERVED_WITHIN_MS / 1000} s`,
  async () => {
    const source = await readFile(join(copy, ROUTE), 'utf8')
    assert.ok(source.includes(SERVICE_NAME), `${ROUTE} names the service`)
    const edited = `Desafio 3 - Docker Compose (edited ${runId})`
    await writeFile(join(copy, ROUTE), source.replace(SERVICE_NAME, `service: '${edited}'`))
    const ms = await untilServed((answer) => answer.service === edited, 60_000)
    figures.push(`watch: ${ROUTE} edited, the change served after ${seconds(ms)} (sync+restart)`)
    assert.ok(ms < EDIT_SERVED_WITHIN_MS, `served after ${ms} ms`)
    assert.equal((await webContainer()).id, web, 'the same container, restarted (not rebuilt)')
    assert.ok((await readFile(join(PROJECT_DIR, ROUTE), 'utf8')).includes(SERVICE_NAME), 'the real tree is untouched')
  },
)

step("package.json changed: web's image is rebuilt (npm ci again) and the new container serves", async () => {
  const before = await webContainer()
  const manifest = JSON.parse(await readFile(join(copy, 'package.json'), 'utf8')) as { version: string }
  const version = `${manifest.version}-dev.${runId}`
  manifest.version = version
  await writeFile(join(copy, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  const ms = await untilServed((answer) => answer.version === version, REBUILT_WITHIN_MS)
  figures.push(`watch: package.json changed, rebuilt and served after ${seconds(ms)}`)
  const now = await webContainer()
  assert.notEqual(now.image, before.image, 'a new image')
  assert.notEqual(now.id, before.id, 'a new container')
  assert.equal((await info()).service, `Desafio 3 - Docker Compose (edited ${runId})`, 'built from the edited sources')
})

step('Ctrl-C stops the stack', async () => {
  const exited = new Promise((resolve) => upWatch?.once('exit', resolve))
  upWatch?.kill('SIGINT')
  await exited
  await eventually(
    async () => assert.equal((await compose(['ps', '-q'])).stdout.trim(), '', 'no container runs'),
    60_000,
    500,
  )
})
