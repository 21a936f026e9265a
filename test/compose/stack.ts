// Helpers of the end-to-end tests of the Compose stacks: running commands,
// the containers' health, what is reachable, the README's commands.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, loadavg, networkInterfaces } from 'node:os'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url))

/** The container of each service (compose.yaml `container_name`). */
export const CONTAINERS = { db: 'desafio3-postgres', cache: 'desafio3-redis', web: 'desafio3-web' } as const
export const VOLUMES = ['desafio3-postgres-data', 'desafio3-redis-data'] as const
export const NETWORK = 'desafio3-network'

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  /** Written to the program's standard input, which is then closed. */
  input?: string
  timeoutMs?: number
}

export interface RunResult {
  stdout: string
  stderr: string
}

class CommandError extends Error {
  override name = 'CommandError'
  readonly result: RunResult & { code: number | null }

  constructor(message: string, result: RunResult & { code: number | null }) {
    super(message)
    this.result = result
  }
}

const tail = (text: string) => (text.length > 3000 ? `...${text.slice(-3000)}` : text)

/** Runs a program in the project folder; rejects with its output when it fails or outlives the timeout. */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { env = process.env, input, timeoutMs = 120_000 } = options
  const shown = [file, ...args].join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: PROJECT_DIR, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new CommandError(`${shown}: ${err.message}`, { stdout, stderr, code: null }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolve({ stdout, stderr })
      const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exited ${code ?? signal}`
      reject(new CommandError(`${shown} ${why}\n${tail(stdout)}\n${tail(stderr)}`, { stdout, stderr, code }))
    })
    child.stdin.end(input)
  })
}

/** Docker Compose v2, the command the README and the tests use. */
export const COMPOSE = ['docker', 'compose'] as const

/** The IPv4 addresses of this machine other than loopback: where a port published on 127.0.0.1 must not answer. */
export function otherAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address !== undefined && address.family === 'IPv4' && !address.internal)
    .map((address) => (address as { address: string }).address)
}

/** Whether a TCP connection to host:port opens (`refused`, or `no answer` within 2 s, when it does not). */
export function connectTo(host: string, port: number): Promise<'connected' | 'refused' | 'no answer'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve('no answer')
    })
    socket.once('error', () => resolve('refused'))
  })
}

type Health = 'starting' | 'healthy' | 'unhealthy' | 'none' | 'absent'

/** The health of each container (`absent` when there is no such container). */
async function health(names: readonly string[]): Promise<Health[]> {
  return Promise.all(
    names.map(async (name) => {
      try {
        const { stdout } = await run(
          'docker',
          ['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', name],
          { timeoutMs: 30_000 },
        )
        return stdout.trim() as Health
      } catch {
        return 'absent'
      }
    }),
  )
}

/** Waits until every container is healthy; returns the milliseconds it took. */
export async function waitHealthy(names: readonly string[], timeoutMs: number): Promise<number> {
  const started = Date.now()
  for (;;) {
    const states = await health(names)
    if (states.every((state) => state === 'healthy')) return Date.now() - started
    const report = names.map((name, i) => `${name}: ${states[i]}`).join(', ')
    if (states.includes('unhealthy')) throw new Error(`a container is unhealthy (${report})`)
    if (Date.now() - started > timeoutMs) throw new Error(`not healthy after ${timeoutMs} ms (${report})`)
    await sleep(250)
  }
}

/** The compose project that created a container, volume or network; undefined when there is none. */
export async function composeProjectOf(kind: 'container' | 'volume' | 'network', name: string) {
  const labels = kind === 'container' ? '.Config.Labels' : '.Labels'
  try {
    const format = `{{index ${labels} "com.docker.compose.project"}}`
    const { stdout } = await run('docker', [kind, 'inspect', '-f', format, name], { timeoutMs: 30_000 })
    return stdout.trim()
  } catch {
    return undefined
  }
}

export async function exists(kind: 'container' | 'volume' | 'network', name: string): Promise<boolean> {
  return (await composeProjectOf(kind, name)) !== undefined
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * A command exactly as a document shows it; throws when the document does not
 * contain it, so the test and the documentation cannot drift apart.
 */
function fromDoc(document: 'README.md' | 'docs/operations.md', command: string): string {
  const text = readFileSync(new URL(`../../${document}`, import.meta.url), 'utf8')
  if (!text.includes(command)) throw new Error(`${document} does not contain this command verbatim:\n${command}`)
  return command
}
const fromReadme = (command: string) => fromDoc('README.md', command)

// The README's commands (its quick start and curl tour), and two of docs/operations.md's, verbatim.
export const README = {
  up: fromReadme('docker compose up -d --wait'),
  devUpWatch: fromReadme('docker compose -f compose.dev.yaml up --watch'),
  info: fromReadme('curl http://127.0.0.1:5000/'),
  users: fromReadme('curl http://127.0.0.1:5000/users'),
  usersPage: fromReadme('curl "http://127.0.0.1:5000/users?department=Design&limit=1&offset=1"'),
  usersAfter: fromReadme('curl -i "http://127.0.0.1:5000/users?limit=3&after=3"'),
  userCreate: fromReadme(
    [
      'curl -X POST http://127.0.0.1:5000/users \\',
      '  -H "Content-Type: application/json" \\',
      `  -d '{"username": "nsouza", "email": "nina.souza@empresa.com", "full_name": "Nina Souza"}'`,
    ].join('\n'),
  ),
  userRead: fromReadme('curl -i http://127.0.0.1:5000/users/11'),
  userPatch: fromReadme(
    [
      'curl -X PATCH http://127.0.0.1:5000/users/11 \\',
      `  -H "Content-Type: application/json" -d '{"department": "QA"}'`,
    ].join('\n'),
  ),
  userDelete: fromReadme('curl -X DELETE http://127.0.0.1:5000/users/11'),
  cacheSet: fromReadme(
    [
      'curl -X POST http://127.0.0.1:5000/cache \\',
      '  -H "Content-Type: application/json" \\',
      `  -d '{"key": "user:1", "value": {"name": "João"}, "ttl": 300}'`,
    ].join('\n'),
  ),
  cacheGet: fromReadme('curl http://127.0.0.1:5000/cache/user:1'),
  health: fromReadme('curl http://127.0.0.1:5000/health'),
  ps: fromReadme('docker compose ps'),
  psql: fromDoc('docs/operations.md', 'docker compose exec db psql -U postgres -d desafio3'),
  networkInspect: fromDoc('docs/operations.md', 'docker network inspect desafio3-network'),
  backup: fromDoc('docs/operations.md', 'docker compose run --rm backup'),
  restore: fromDoc('docs/operations.md', 'docker compose run --rm restore desafio3-20261206T031500Z.dump'),
}

/** The command line of every process in a container, one a line, read inside it from /proc (images have no ps). */
export async function commandLines(container: string): Promise<string> {
  const script = 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline"; echo; done 2>/dev/null'
  const { stdout } = await run('docker', ['exec', container, 'sh', '-c', script], { timeoutMs: 30_000 })
  return stdout
}

/**
 * The steps of an end-to-end scenario, each building on the one before: once one
 * fails, the rest are skipped, and the failing one first prints `showState()`.
 */
export function scenario(showState: () => Promise<void>) {
  let failed = false
  return function step(name: string, fn: () => Promise<void>, timeoutMs = 5 * 60_000) {
    test(name, { timeout: timeoutMs }, async (t) => {
      if (failed) return t.skip('an earlier step failed')
      try {
        await fn()
      } catch (err) {
        failed = true
        await showState()
        throw err
      }
    })
  }
}

/** Prints `compose ps` and the last lines of each service's log, for a failed step. */
export async function printComposeState(
  compose: (args: string[], options?: RunOptions) => Promise<RunResult>,
  logLines: number,
) {
  for (const args of [['ps'], ['logs', '--no-color', '--tail', String(logLines)]]) {
    const output = await compose(args, { timeoutMs: 60_000 }).catch((err) =>
      err instanceof CommandError ? err.result : { stdout: '', stderr: String(err) },
    )
    console.error(`--- ${COMPOSE.join(' ')} ${args.join(' ')}\n${output.stdout}${output.stderr}`)
  }
}

/** The first figures a scenario prints: which Compose ran it, and how busy the machine was. */
export function startFigures(versionOutput: string): string[] {
  const load = loadavg().map((value) => value.toFixed(1))
  return [
    `compose: ${versionOutput.split('\n')[0].trim()}`,
    `load average at the start: ${load.join(', ')} (${cpus().length} CPUs)`,
  ]
}
