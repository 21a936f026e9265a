import { type ChildProcess, spawn } from 'node:child_process'
import type { Test } from 'tap'
import { freePort, overrides, RELAXED_TIMEOUTS, services } from './app.ts'

export interface RunningServer {
  process: ChildProcess
  port: number
  baseUrl: string
  output: () => string
}

// util-linux's script(1) runs a command on a pseudo-terminal.
export const SCRIPT = '/usr/bin/script'

/**
 * Starts the server as `node src/server.ts` does in the container (or, with
 * `terminal`, as a developer would, on a pseudo-terminal), and waits until it
 * listens. `env` as `build` takes it, over the same relaxed timeouts: the
 * test's constants reach the process as an argument of test/helpers/server-entry.ts.
 */
export async function startServer(
  t: Test,
  env: Record<string, string> = {},
  { terminal = false } = {},
): Promise<RunningServer> {
  // A free port can be taken by another process (another test file's
  // connection) before the server listens on it: then another port.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const server = await startOnce(t, env, terminal)
    if (server !== 'port taken') return server
  }
  throw new Error('server did not start: its port was taken, three times')
}

async function startOnce(
  t: Test,
  env: Record<string, string>,
  terminal: boolean,
): Promise<RunningServer | 'port taken'> {
  const { databaseUrl, redisUrl } = await services()
  const port = await freePort()
  const { settings, tuning } = overrides({
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `server-process-${port}:`,
    ...RELAXED_TIMEOUTS,
    ...env,
  })
  const entry = ['test/helpers/server-entry.ts', JSON.stringify(tuning)]
  const [command, args] = terminal
    ? [SCRIPT, ['-qfec', `exec ${process.execPath} ${entry[0]} '${entry[1]}'`, '/dev/null']]
    : [process.execPath, entry]
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE, ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const deadline = Date.now() + 30_000 // generous: the CPU is shared
  while (!output.includes('Server listening')) {
    if (child.exitCode !== null && output.includes('EADDRINUSE')) return 'port taken'
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { process: child, port, baseUrl: `http://127.0.0.1:${port}`, output: () => output }
}
