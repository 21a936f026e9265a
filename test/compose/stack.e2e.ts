// `npm run test:compose`: the whole stack, end to end, as a user runs it.
// Builds web's image, starts db, cache and web with the README's `docker
// compose up -d --wait`, runs the README's commands verbatim, checks that web
// is published on this machine's loopback only, and that data survives
// `restart`, `down` and `up`, and is gone after `down -v`. Always tears down
// with `down -v`.
//
// It uses host port 5000 and the fixed names desafio3-*; it refuses to run
// (and touches nothing) when they belong to another Compose project, so it
// never deletes a stack you started yourself. Needs Docker, Docker Compose v2
// (`docker compose`), curl and util-linux `script`.
//
// One scenario, longer than the other files: its steps build on each other
// (one stack, brought up once, its data carried from step to step), so they
// stay together in the order they run. The helpers that hold nothing of the
// run, and the README's commands, are in stack.ts.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { ConfigSchema } from '../../lib/config.ts'
import { eventually } from '../helpers/eventually.ts'
import { fillCache } from './cache-fill.ts'
import { closedLoop } from './load.ts'
import {
  COMPOSE,
  CONTAINERS,
  commandLines,
  composeProjectOf,
  connectTo,
  exists,
  NETWORK,
  otherAddresses,
  printComposeState,
  README,
  type RunOptions,
  run,
  scenario,
  startFigures,
  VOLUMES,
  waitHealthy,
} from './stack.ts'

const PROJECT = 'desafio3-e2e'
const WEB = 'http://127.0.0.1:5000'
const ALL = Object.values(CONTAINERS)
// Generous bounds: the machine's CPU is shared. The figures are printed.
const HEALTHY_WITHIN_MS = 240_000
const BUILD_WITHIN_MS = 20 * 60_000
// Docker kills 10 s after SIGTERM; web must be gone well before.
const SHUTDOWN_WITHIN_MS = 5000

const runId = randomBytes(4).toString('hex')
const secret = () => `e2e-${randomBytes(12).toString('hex')}`
// Every variable compose.yaml reads that the assertions depend on; the image
// variables pass through from the environment (.ci/run sets them).
const env: NodeJS.ProcessEnv = {
  ...process.env,
  COMPOSE_PROJECT_NAME: PROJECT,
  COMPOSE_FILE: 'compose.yaml',
  WEB_PORT: '5000',
  POSTGRES_DB: 'desafio3',
  POSTGRES_USER: 'postgres',
  POSTGRES_PASSWORD: secret(),
  REDIS_PASSWORD: secret(),
  LOG_LEVEL: 'info',
}

/** Set once the preflight found no other project's desafio3 resources: only then may teardown run `down -v`. */
let ownsTheNames = false
const started = Date.now()
const figures: string[] = []

function compose(args: string[], options: RunOptions = {}) {
  const [file, ...prefix] = COMPOSE
  return run(file, [...prefix, ...args], { env, ...options })
}

/** Runs a README command as written. */
function runReadme(command: string, options: RunOptions & { tty?: boolean } = {}) {
  // `compose exec` wants a terminal: util-linux `script` gives it one.
  if (options.tty) return run('script', ['-qefc', command, '/dev/null'], { env, ...options })
  return run('bash', ['-c', command], { env, ...options })
}

async function curlJson(command: string): Promise<Record<string, unknown>> {
  const { stdout } = await runReadme(command, { timeoutMs: 30_000 })
  try {
    return JSON.parse(stdout)
  } catch {
    throw new Error(`${command}\nprinted no JSON: ${stdout}`)
  }
}

async function getJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${WEB}${path}`, { signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** The README's `docker compose up -d --wait`: returns once every service is healthy; the milliseconds it took. */
async function up(): Promise<number> {
  const t0 = Date.now()
  await runReadme(README.up, { timeoutMs: HEALTHY_WITHIN_MS })
  await waitHealthy(ALL, HEALTHY_WITHIN_MS - (Date.now() - t0))
  return Date.now() - t0
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const step = scenario(showState)

async function showState() {
  if (ownsTheNames) await printComposeState(compose, 40)
}

after(async () => {
  if (ownsTheNames) await compose(['down', '-v', '--remove-orphans'], { timeoutMs: 120_000 })
  const { stdout } = await run('docker', [
    'image',
    'ls',
    'desafio3-web:latest',
    '--format',
    '{{.Repository}}:{{.Tag}} {{.Size}}',
  ])
  figures.push(`web image: ${stdout.trim() || '(none)'}`, `e2e duration: ${seconds(Date.now() - started)}`)
  console.log(figures.map((line) => `# ${line}`).join('\n'))
})

step('Docker Compose is there, and nothing of another project uses the desafio3 names', async () => {
  const { stdout } = await compose(['version'])
  figures.push(...startFigures(stdout))
  const names = [
    ...ALL.map((name) => ['container', name] as const),
    ...VOLUMES.map((name) => ['volume', name] as const),
    ['network', NETWORK] as const,
  ]
  for (const [kind, name] of names) {
    const project = await composeProjectOf(kind, name)
    const owner = project ? `Compose project "${project}"` : 'no Compose project'
    assert.ok(
      project === undefined || project === PROJECT,
      `${kind} ${name} exists and belongs to ${owner}, not to this test: stop that stack first ` +
        '(`docker compose down`; `down -v` also deletes its data). This test would replace it.',
    )
  }
  ownsTheNames = true
  // What an interrupted earlier run may have left.
  await compose(['down', '-v', '--remove-orphans'], { timeoutMs: 120_000 })
})

step(
  "web's image builds",
  async () => {
    const t0 = Date.now()
    await compose(['build'], { timeoutMs: BUILD_WITHIN_MS })
    figures.push(`build: ${seconds(Date.now() - t0)}`)
  },
  BUILD_WITHIN_MS + 60_000,
)

step("the README's up -d --wait: db, cache and web become healthy, web after the other two", async () => {
  const ms = await up()
  figures.push(`time to healthy (first start, empty volumes): ${seconds(ms)}`)
  const startedAt = await Promise.all(
    ALL.map(async (name) => (await run('docker', ['inspect', '-f', '{{.State.StartedAt}}', name])).stdout.trim()),
  )
  const [db, cache, web] = startedAt.map((iso) => Date.parse(iso))
  assert.ok(web > db && web > cache, `web started after db and cache (${startedAt.join(', ')})`)
})

step("the README's `docker compose ps` and `docker network inspect` show the three", async () => {
  const ps = await runReadme(README.ps)
  for (const name of ALL) assert.match(ps.stdout, new RegExp(`${name}\\b.*\\(healthy\\)`), `ps shows ${name} healthy`)
  const [network] = JSON.parse((await runReadme(README.networkInspect)).stdout)
  assert.equal(network.Driver, 'bridge')
  const attached = Object.values(network.Containers as Record<string, { Name: string }>).map((c) => c.Name)
  assert.deepEqual(attached.sort(), [...ALL].sort())
})

step("the README's curl examples work through 127.0.0.1:5000", async () => {
  const info = await curlJson(README.info)
  assert.equal(info.service, 'Desafio 3 - Docker Compose')
  assert.equal(typeof info.version, 'string')
  assert.equal((info.endpoints as Record<string, string>).users, '/users')

  const users = await curlJson(README.users)
  assert.equal(users.total, 10)
  assert.equal((users.users as unknown[]).length, 10)
  const page = await curlJson(README.usersPage)
  assert.equal(page.limit, 1)
  assert.equal(page.offset, 1)
  assert.equal((page.users as Array<{ department: string }>)[0].department, 'Design')
  const after = (await runReadme(README.usersAfter, { timeoutMs: 30_000 })).stdout
  assert.match(after, /^link: <\/users\?after=6&limit=3>; rel="next"/im, 'the Link to the next page')
  const afterPage = JSON.parse(after.slice(after.indexOf('{'))) as { users: { id: number }[] }
  assert.deepEqual(
    afterPage.users.map((user) => user.id),
    [4, 5, 6],
    'the users after id 3',
  )

  const created = await curlJson(README.userCreate)
  assert.equal(created.id, 11, 'the first user created on a fresh stack')
  assert.equal(created.username, 'nsouza')
  const read = await runReadme(README.userRead, { timeoutMs: 30_000 })
  assert.match(read.stdout, /^HTTP\/1\.1 200/)
  assert.match(read.stdout, /^x-cache: (miss|hit|bypass)/im)
  assert.equal((await curlJson(README.userPatch)).department, 'QA')
  const deleted = await runReadme(README.userDelete, { timeoutMs: 30_000 })
  assert.equal(deleted.stdout, '', 'DELETE answers 204, no body')
  assert.equal((await getJson('/users/11')).status, 404)

  assert.deepEqual(await curlJson(README.cacheSet), { message: 'Data cached successfully', key: 'user:1', ttl: 300 })
  const cached = await curlJson(README.cacheGet)
  assert.equal(cached.key, 'user:1')
  assert.deepEqual(cached.value, { name: 'João' })
  assert.ok((cached.ttl as number) > 0 && (cached.ttl as number) <= 300, `ttl ${cached.ttl}`)

  const health = await curlJson(README.health)
  assert.equal(health.status, 'healthy')
  for (const service of ['web', 'db', 'cache']) {
    assert.equal((health.services as Record<string, { status: string }>)[service].status, 'ok', service)
  }
})

step('every endpoint answers with its documented status', async () => {
  assert.equal((await getJson('/')).status, 200)
  assert.equal((await getJson('/users')).status, 200)
  assert.equal((await getJson('/health')).status, 200)
  assert.equal((await getJson(`/cache/absent-${runId}`)).status, 404)
  const invalid = await fetch(`${WEB}/cache`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: 1 }),
  })
  assert.equal(invalid.status, 400)
  const openapi = await getJson('/docs/json')
  assert.equal(openapi.status, 200)
  assert.match(String(openapi.body.openapi), /^3\./)
  assert.equal((await fetch(`${WEB}/docs`)).status, 200)
})

step("only web is published, on this machine's loopback only; db and cache inside the network only", async () => {
  for (const name of [CONTAINERS.db, CONTAINERS.cache]) {
    assert.equal((await run('docker', ['port', name])).stdout.trim(), '', `${name} publishes no port`)
  }
  assert.equal((await run('docker', ['port', CONTAINERS.web])).stdout.trim(), '5000/tcp -> 127.0.0.1:5000')
  const addresses = otherAddresses()
  assert.ok(addresses.length > 0, 'this machine has an address other than loopback')
  for (const address of addresses) {
    assert.notEqual(await connectTo(address, 5000), 'connected', `port 5000 does not answer on ${address}`)
  }
  assert.equal(await connectTo('127.0.0.1', 5000), 'connected')
  figures.push(`web published on 127.0.0.1:5000 only; no answer on ${addresses.join(', ')}`)
})

step('web runs as user node (uid 1000), every process of it', async () => {
  const user = await run('docker', ['inspect', '-f', '{{.Config.User}}', CONTAINERS.web])
  assert.equal(user.stdout.trim(), 'node')
  const listUids = `const fs = require('node:fs')
    for (const pid of fs.readdirSync('/proc').filter((name) => /^\\d+$/.test(name))) {
      try { console.log(pid, fs.readFileSync('/proc/' + pid + '/status', 'utf8').match(/^Uid:\\s+(\\d+)/m)[1]) } catch {}
    }`
  const { stdout } = await run('docker', ['exec', CONTAINERS.web, 'node', '-e', listUids])
  const uids = stdout.trim().split('\n')
  assert.ok(uids.length >= 2, `the init process and node at least: ${uids}`)
  for (const line of uids) assert.match(line, /^\d+ 1000$/, `pid uid: ${line}`)
})

step('Redis requires the password (the healthcheck passes only with it), which is on no command line', async () => {
  const { stdout } = await run('docker', ['exec', CONTAINERS.cache, 'redis-cli', 'ping'])
  assert.match(stdout, /NOAUTH/)
  const password = env.REDIS_PASSWORD as string
  for (const name of ALL) {
    const [config] = JSON.parse((await run('docker', ['inspect', name])).stdout)
    const command = JSON.stringify([config.Path, config.Args, config.Config.Cmd, config.Config.Entrypoint])
    assert.ok(!command.includes(password), `not in docker inspect's command of ${name}`)
    assert.ok(!(await commandLines(name)).includes(password), `not on the command line of a process in ${name}`)
  }
})

const row = `e2e_${runId}`
const key = `e2e:${runId}`
const keyValue = { run: runId, note: 'kept across restart, down and up' }

async function rowCount(): Promise<number> {
  const { status, body } = await getJson('/users')
  assert.equal(status, 200)
  return (body.users as { username: string }[]).filter((user) => user.username === row).length
}

/** The cached value once web serves the key again (it answers 503 until it has reconnected). */
async function cachedValueOnceServed(): Promise<unknown> {
  let value: unknown
  await eventually(
    async () => {
      value = await cachedValue()
    },
    30_000,
    250,
  )
  return value
}

async function cachedValue(): Promise<unknown> {
  const { status, body } = await getJson(`/cache/${encodeURIComponent(key)}`)
  if (status === 404) return undefined
  assert.equal(status, 200, JSON.stringify(body))
  return body.value
}

step("the README's psql example writes a row; POST /cache writes a key", async () => {
  const sql = [
    '\\pset pager off',
    `INSERT INTO users (username, email, full_name, department) VALUES ('${row}', '${row}@example.com', 'E2E Test', 'QA');`,
    `SELECT 'e2e-rows:' || count(*) FROM users WHERE username = '${row}';`,
    '\\q',
    '',
  ].join('\n')
  const { stdout } = await runReadme(README.psql, { tty: true, input: sql, timeoutMs: 60_000 })
  assert.match(stdout, /e2e-rows:1\b/, stdout)
  assert.equal(await rowCount(), 1)

  const res = await fetch(`${WEB}/cache`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, value: keyValue, ttl: 3600 }),
  })
  assert.equal(res.status, 201)
  assert.deepEqual(await cachedValue(), keyValue)
})

step('restart cache: the key is still there (append-only file)', async () => {
  await compose(['restart', 'cache'])
  await waitHealthy([CONTAINERS.cache], HEALTHY_WITHIN_MS)
  // web reconnects by itself; until then it answers 503.
  assert.deepEqual(await cachedValueOnceServed(), keyValue)
})

step('stop web: it closes on SIGTERM well before the 10 s kill, and exits 0', async () => {
  const t0 = Date.now()
  await compose(['stop', 'web'])
  figures.push(`stop web, the whole command: ${seconds(Date.now() - t0)}`)
  const state = await run('docker', ['inspect', '-f', '{{.State.ExitCode}} {{.State.FinishedAt}}', CONTAINERS.web])
  const [exitCode, finishedAt] = state.stdout.trim().split(' ')
  assert.equal(exitCode, '0', 'exit code 0, not 137 (killed)')
  const logs = await run('docker', ['logs', '--tail', '20', CONTAINERS.web])
  const closing = logs.stdout
    .split('\n')
    .filter((line) => line.includes('"msg":"closing"'))
    .map((line) => JSON.parse(line) as { time: number; signal?: string })
    .find((entry) => entry.signal === 'SIGTERM')
  assert.ok(closing, `web logged that SIGTERM closes it:\n${logs.stdout}`)
  const shutdownMs = Date.parse(finishedAt) - closing.time
  figures.push(`web's shutdown, from its "closing" log line to the exit: ${shutdownMs} ms`)
  assert.ok(shutdownMs < SHUTDOWN_WITHIN_MS, `shut down in ${shutdownMs} ms`)
})

step('no password appears in any log', async () => {
  const { stdout, stderr } = await compose(['logs', '--no-color'])
  const logs = stdout + stderr
  assert.match(logs, /Server listening/, 'the logs are there')
  for (const name of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD']) {
    assert.ok(!logs.includes(env[name] as string), `${name} is not in the logs`)
  }
})

step('down, then up: the row and the key are still there (named volumes)', async () => {
  await compose(['down'], { timeoutMs: 120_000 })
  for (const name of ALL) assert.equal(await exists('container', name), false, `${name} removed`)
  for (const name of VOLUMES) assert.equal(await exists('volume', name), true, `${name} kept`)
  const ms = await up()
  figures.push(`time to healthy (restart with data): ${seconds(ms)}`)
  assert.equal(await rowCount(), 1)
  assert.deepEqual(await cachedValueOnceServed(), keyValue)
})

// The passwords as Compose secrets from here on (files in a folder of mode 700),
// when the app reads *_FILE variables; plain variables before.
const SECRET_FILES = ['POSTGRES_PASSWORD_FILE', 'REDIS_PASSWORD_FILE'].every((name) => name in ConfigSchema.properties)
let secretsDir = ''
after(async () => {
  if (secretsDir) await rm(secretsDir, { recursive: true, force: true })
})

async function useSecretFiles() {
  secretsDir = await mkdtemp(join(tmpdir(), 'desafio3-secrets-'))
  await chmod(secretsDir, 0o700)
  const passwords = { postgres_password: secret(), redis_password: secret(), api_keys: '' }
  for (const [name, value] of Object.entries(passwords)) {
    await writeFile(join(secretsDir, name), value ? `${value}\n` : '')
    // web reads them as user node (uid 1000); the folder keeps others out.
    await chmod(join(secretsDir, name), 0o644)
  }
  Object.assign(env, {
    SECRETS_DIR: secretsDir,
    POSTGRES_PASSWORD: '',
    POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password',
    REDIS_PASSWORD: '',
    REDIS_PASSWORD_FILE: '/run/secrets/redis_password',
  })
  return [passwords.postgres_password, passwords.redis_password]
}

step(
  `down -v, then up${SECRET_FILES ? ' with the passwords as Compose secrets' : ''}: the volumes are deleted, the data is gone, the seed users are back`,
  async () => {
    await compose(['down', '-v'], { timeoutMs: 120_000 })
    for (const name of VOLUMES) assert.equal(await exists('volume', name), false, `${name} deleted`)
    assert.equal(await exists('network', NETWORK), false, `${NETWORK} removed`)
    const passwords = SECRET_FILES ? await useSecretFiles() : []
    const ms = await up()
    figures.push(`time to healthy (after down -v${SECRET_FILES ? ', passwords as secrets' : ''}): ${seconds(ms)}`)
    assert.equal(await rowCount(), 0)
    assert.equal((await getJson('/users')).body.total, 10)
    assert.equal(await cachedValue(), undefined)
    if (!SECRET_FILES) return
    // In force (Redis wants its password), and nowhere to be read.
    assert.match((await run('docker', ['exec', CONTAINERS.cache, 'redis-cli', 'ping'])).stdout, /NOAUTH/)
    const config = (await compose(['config'])).stdout
    for (const name of ALL) {
      const inspect = (await run('docker', ['inspect', name])).stdout
      const processes = await commandLines(name)
      const logs = await run('docker', ['logs', name])
      for (const password of passwords) {
        assert.ok(!inspect.includes(password), `a password is in docker inspect ${name}`)
        assert.ok(!processes.includes(password), `a password is on a command line in ${name}`)
        assert.ok(!(logs.stdout + logs.stderr).includes(password), `a password is in the log of ${name}`)
        assert.ok(!config.includes(password), 'a password is in docker compose config')
      }
    }
  },
)

step(
  'the cache filled past its bound (32 MB here) at full speed from as many addresses as requests: Redis stays at the bound, every route answers, the rate limit still limits, no user is read stale',
  async () => {
    const maxmemoryMb = 32
    const rateLimit = 60
    // web trusts X-Forwarded-For for this step: each of the attacker's requests claims an address of its own.
    Object.assign(env, { REDIS_MAXMEMORY: `${maxmemoryMb}mb`, RATE_LIMIT_MAX: String(rateLimit), TRUST_PROXY: 'true' })
    await up()
    // redis-cli authenticated from inside the container, with the password as cache has it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell expansions, for sh in the container
    const auth = 'REDISCLI_AUTH=${REDIS_PASSWORD:-$(cat "${REDIS_PASSWORD_FILE:-/dev/null}")} redis-cli info'
    const redisInfo = async () => {
      const { stdout } = await run('docker', ['exec', CONTAINERS.cache, 'sh', '-c', auth])
      return Object.fromEntries(
        stdout.split(/\r?\n/).flatMap((line) => (line.includes(':') ? [line.split(':', 2) as [string, string]] : [])),
      )
    }
    assert.equal((await redisInfo()).maxmemory, String(maxmemoryMb * 1024 * 1024), 'REDIS_MAXMEMORY reached Redis')
    figures.push(
      ...(await fillCache({
        base: WEB,
        maxmemoryBytes: maxmemoryMb * 1024 * 1024,
        rateLimit,
        redisInfo,
        writeHeaders: {},
      })),
    )
  },
)

step(
  "the README's backup under write load, down -v, up, the restore: every user written before the backup started is back, the counts agree",
  async () => {
    const backupDir = await mkdtemp(join(tmpdir(), 'desafio3-backups-'))
    after(() => rm(backupDir, { recursive: true, force: true }))
    env.BACKUP_DIR = backupDir
    const psql = async (sql: string) =>
      (await compose(['exec', '-T', 'db', 'psql', '-U', 'postgres', '-d', 'desafio3', '-tAc', sql])).stdout.trim()

    // A client writes users all along; the backup starts 1 s into it.
    let backupOutput = ''
    const writes = await closedLoop({
      baseUrl: WEB,
      durationMs: 5000,
      concurrency: 4,
      next: (i) => ({
        method: 'POST',
        path: '/users',
        headers: { 'x-forwarded-for': `203.0.113.${i % 200}` },
        body: { username: `bk_${runId}_${i}`, email: `bk_${runId}_${i}@example.com`, department: `D${i % 3}` },
      }),
      during: {
        atMs: 1000,
        action: async () => {
          backupOutput = (await runReadme(README.backup, { timeoutMs: 120_000 })).stdout
        },
      },
    })
    const written = /backup written: \S+\/(desafio3-\w+\.dump) \((\S+)\)/.exec(backupOutput)
    assert.ok(written, `the backup says where it wrote: ${backupOutput}`)
    const [, file, size] = written
    const [backupStartedAt] = writes.actionAt ?? [0]
    const before = writes.outcomes.filter((o) => o.status === 201 && o.doneAt < backupStartedAt)
    assert.ok(before.length > 0, 'users were written before the backup started')

    await compose(['down', '-v'], { timeoutMs: 120_000 })
    // The checks below read every user from one address: no rate limit.
    Object.assign(env, { RATE_LIMIT_MAX: '0', TRUST_PROXY: '' })
    await up()
    assert.equal((await getJson('/users')).body.total, 10, 'an empty database: the seed users only')
    const restoreT0 = Date.now()
    await runReadme(README.restore.replace('desafio3-20261206T031500Z.dump', file), { timeoutMs: 120_000 })
    const restoreMs = Date.now() - restoreT0

    const missing: string[] = []
    for (const o of before) {
      const { id, username } = JSON.parse(o.body) as { id: number; username: string }
      const res = await getJson(`/users/${id}`)
      if (res.status !== 200 || res.body.username !== username) missing.push(username)
    }
    const rows = Number(await psql('SELECT count(*) FROM users'))
    const total = (await getJson('/users?limit=1')).body.total
    const departments = await psql(
      `SELECT string_agg(department || '=' || n, ',' ORDER BY department) FROM (SELECT department, count(*) AS n FROM users WHERE department IS NOT NULL GROUP BY department) AS rows`,
    )
    const counted = await psql(
      `SELECT string_agg(department || '=' || n, ',' ORDER BY department) FROM (SELECT department, sum(users) AS n FROM department_user_counts GROUP BY department HAVING sum(users) <> 0) AS counts`,
    )
    figures.push(
      `backup under write load: ${file} (${size}); ${before.length} users written before it started, ` +
        `${writes.outcomes.length} during the run; after down -v, up and the restore (${seconds(restoreMs)}): ` +
        `${before.length - missing.length} of ${before.length} back; ${rows} rows, total ${total}`,
    )
    assert.deepEqual(missing, [], 'every user written before the backup started is back')
    assert.equal(total, rows, 'total counts the rows')
    assert.equal(counted, departments, "each department's count agrees with its rows")
    const junk = join(backupDir, 'not-a-dump.dump')
    await writeFile(junk, 'not a dump\n')
    const refused = await runReadme(README.restore.replace('desafio3-20261206T031500Z.dump', 'not-a-dump.dump')).then(
      () => '',
      (err: Error) => err.message,
    )
    assert.match(refused, /is not a dump/, 'a file that is not a dump is refused')
    assert.equal(Number(await psql('SELECT count(*) FROM users')), rows, 'and nothing was touched')
  },
)
