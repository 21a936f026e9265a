// HTTP load for the end-to-end test of the scaled stack: requests over
// keep-alive connections, each one's outcome recorded (status, headers, body,
// or the network error), in a closed loop (N clients, each sending its next
// request when the last is answered) or an open loop (a fixed rate, however
// slow the answers). Every run is bounded in time and in requests in flight,
// and sends only to the URL it is given (127.0.0.1 in the tests).
import { Agent, request as httpRequest } from 'node:http'

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  headers?: Record<string, string>
  body?: unknown
}

export interface Outcome {
  spec: RequestSpec
  /** HTTP status; 0 when no response came (then `error` says why). */
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  error?: string
  /** When it was sent and answered, in ms since the run started. */
  sentAt: number
  doneAt: number
}

const TIMEOUT_MS = 15_000

/** One request; never rejects: a failure is an outcome with status 0. */
export function send(baseUrl: string, spec: RequestSpec, agent?: Agent, t0 = Date.now()): Promise<Outcome> {
  const url = new URL(spec.path, baseUrl)
  const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body)
  const headers: Record<string, string> = { ...spec.headers }
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  const sentAt = Date.now() - t0
  return new Promise((resolve) => {
    const finish = (outcome: Omit<Outcome, 'spec' | 'sentAt' | 'doneAt'>) =>
      resolve({ spec, sentAt, doneAt: Date.now() - t0, ...outcome })
    const req = httpRequest(url, { method: spec.method, headers, agent, timeout: TIMEOUT_MS }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', (err) => finish({ status: 0, headers: {}, body, error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)))
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({ status: 0, headers: {}, body: '', error: err.code ?? err.message }),
    )
    req.end(payload)
  })
}

interface RunOptions {
  baseUrl: string
  durationMs: number
  /** The i-th request of the run. */
  next: (i: number) => RequestSpec
  /** Called once, `atMs` after the start (a container killed in the middle of the run). */
  during?: { atMs: number; action: () => Promise<unknown> }
}

export interface RunResult {
  outcomes: Outcome[]
  /** When `during`'s action started and ended, in ms since the run started. */
  actionAt?: [number, number]
  elapsedMs: number
}

/** `concurrency` clients, each on its own keep-alive connection, for `durationMs` or until `until()`. */
export async function closedLoop(
  options: RunOptions & { concurrency: number; until?: () => boolean },
): Promise<RunResult> {
  const { baseUrl, durationMs, next, concurrency, until = () => false } = options
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const outcomes: Outcome[] = []
  const t0 = Date.now()
  let i = 0
  const client = async () => {
    while (Date.now() - t0 < durationMs && !until()) outcomes.push(await send(baseUrl, next(i++), agent, t0))
  }
  const [actionAt] = await Promise.all([runAction(options.during, t0), ...Array.from({ length: concurrency }, client)])
  agent.destroy()
  return { outcomes, actionAt, elapsedMs: Date.now() - t0 }
}

/** `ratePerSecond` requests a second, sent on time however slow the answers, at most `maxInFlight` at once. */
export async function openLoop(
  options: RunOptions & { ratePerSecond: number; maxInFlight?: number },
): Promise<RunResult & { skipped: number }> {
  const { baseUrl, durationMs, next, ratePerSecond, maxInFlight = 512 } = options
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight })
  const outcomes: Outcome[] = []
  const pending = new Set<Promise<void>>()
  const t0 = Date.now()
  let sent = 0
  let skipped = 0
  const action = runAction(options.during, t0)
  while (Date.now() - t0 < durationMs) {
    const due = Math.floor(((Date.now() - t0) / 1000) * ratePerSecond)
    for (; sent < due; sent++) {
      if (pending.size >= maxInFlight) {
        skipped++
        continue
      }
      const p = send(baseUrl, next(sent), agent, t0).then((outcome) => {
        outcomes.push(outcome)
        pending.delete(p)
      })
      pending.add(p)
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  await Promise.all(pending)
  const actionAt = await action
  agent.destroy()
  return { outcomes, actionAt, elapsedMs: Date.now() - t0, skipped }
}

async function runAction(during: RunOptions['during'], t0: number): Promise<[number, number] | undefined> {
  if (!during) return undefined
  await new Promise((resolve) => setTimeout(resolve, during.atMs))
  const start = Date.now() - t0
  await during.action()
  return [start, Date.now() - t0]
}

/** An answer the client can act on: any status but a 5xx, and not "the same key is still being worked on". */
export function isAnswer(outcome: Outcome): boolean {
  if (outcome.status === 0 || outcome.status >= 500) return false
  return !(outcome.status === 409 && outcome.body.includes('"IDEMPOTENCY_KEY_IN_USE"'))
}

/**
 * Sends `first`'s request again, with the same Idempotency-Key, until it gets
 * an answer (isAnswer) or `deadlineMs` passes: after `retry-after` seconds when
 * the last attempt said so, else 250 ms. Each attempt has a request id of its own.
 */
export async function retryUntilAnswered(
  baseUrl: string,
  first: Outcome,
  deadlineMs: number,
): Promise<{ final: Outcome; attempts: number; tookMs: number }> {
  const t0 = Date.now()
  let final = first
  let attempts = 0
  while (!isAnswer(final) && Date.now() - t0 < deadlineMs) {
    const waitS = Number(final.headers['retry-after'])
    await new Promise((resolve) => setTimeout(resolve, waitS > 0 ? waitS * 1000 : 250))
    const headers = { ...final.spec.headers, 'x-request-id': `${first.spec.headers?.['x-request-id']}-r${++attempts}` }
    final = await send(baseUrl, { ...first.spec, headers })
  }
  return { final, attempts, tookMs: Date.now() - t0 }
}

/** Counts of each key, as `a: 3, b: 1`. */
export function tally(values: Iterable<string | number>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1)
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)))
}

export function showTally(counts: Map<string, number>): string {
  return [...counts].map(([key, count]) => `${key}: ${count}`).join(', ') || '(none)'
}
