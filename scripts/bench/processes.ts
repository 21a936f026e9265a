// Child processes of the bench: started, probed until they answer, stopped;
// all killed when the bench exits, whatever happens. A server's log (its
// stdout) goes through a pipe to `wc -c`, as a container's goes through a pipe
// to Docker: writing it costs what it costs in production, and its size is
// known. Or, with `log: 'discarded'`, to /dev/null (the constant-body ceiling,
// measured that way since it exists).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'

const children: ChildProcess[] = []
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
})

export interface Started {
  process: ChildProcess
  /** How many bytes the process has logged, once it has exited. */
  logBytes: Promise<number>
}

/** Starts `node <args>`; resolves once `probePath` answers. */
export async function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  probePath = '/health/live',
  log: 'counted' | 'discarded' = 'counted',
): Promise<Started> {
  if (log === 'discarded') {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] })
    children.push(child)
    await answering(child, args, port, probePath)
    return { process: child, logBytes: Promise.resolve(0) }
  }
  const counter = spawn('wc', ['-c'], { stdio: ['pipe', 'pipe', 'inherit'] })
  let counted = ''
  counter.stdout.on('data', (chunk) => {
    counted += chunk
  })
  const logBytes = once(counter, 'close').then(() => Number.parseInt(counted, 10))
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', counter.stdin, 'inherit'] })
  counter.stdin.destroy()
  children.push(child)
  await answering(child, args, port, probePath)
  return { process: child, logBytes }
}

async function answering(child: ChildProcess, args: string[], port: number, probePath: string) {
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`)
    try {
      await fetch(`http://127.0.0.1:${port}${probePath}`)
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`${args.join(' ')} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

export async function stopProcess(child: ChildProcess) {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** A process's resident set size now and at its peak (VmHWM), in MiB. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
}
