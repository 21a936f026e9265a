// One load run against one endpoint: autocannon (from npm, the default) or
// wrk (Debian's package `wrk`, a C load generator that needs far less CPU, so
// more of the machine is left to the server), at a fixed number of
// connections, no pipelining.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import autocannon from 'autocannon'

export type Client = 'autocannon' | 'wrk'

export interface Endpoint {
  name: string
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  body?: string
  /** With `{n}` in the path or body: every request gets its own n, counting up from here. */
  firstN?: number
}

const N = /\{n\}/g

export interface Result {
  requestsPerSecond: number
  /** Latency percentiles, in ms. */
  p50: number
  p99: number
  /** Connection errors, timeouts and answers outside 2xx. */
  errors: number
  /** Bytes per answer, headers included. */
  bytes: number
  requests: number
}

export async function load(
  client: Client,
  url: string,
  endpoint: Endpoint,
  seconds: number,
  connections: number,
): Promise<Result> {
  return client === 'wrk'
    ? wrk(url, endpoint, seconds, connections)
    : autocannonRun(url, endpoint, seconds, connections)
}

async function autocannonRun(url: string, endpoint: Endpoint, seconds: number, connections: number): Promise<Result> {
  const headers: Record<string, string> = endpoint.body ? { 'content-type': 'application/json' } : {}
  let n = endpoint.firstN ?? 0
  const result = await autocannon({
    // A templated path is setupRequest's to make.
    url: endpoint.firstN === undefined ? url : new URL(url).origin,
    method: endpoint.method,
    body: endpoint.body,
    headers,
    connections,
    pipelining: 1,
    duration: seconds,
    ...(endpoint.firstN === undefined
      ? {}
      : {
          requests: [
            {
              setupRequest: (request) => {
                const current = String(n++)
                return {
                  ...request,
                  path: endpoint.path.replace(N, current),
                  body: endpoint.body?.replace(N, current),
                }
              },
            },
          ],
        }),
  })
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    bytes: result.throughput.average / Math.max(result.requests.average, 1),
    requests: result.requests.total,
  }
}

const scripts = mkdtempSync(join(tmpdir(), 'bench-wrk-'))

function luaString(text: string) {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

async function wrk(url: string, endpoint: Endpoint, seconds: number, connections: number): Promise<Result> {
  // One thread (-t1): one Lua state, so the counter for {n} is unique.
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency']
  if (endpoint.method !== 'GET' || endpoint.body || endpoint.firstN !== undefined) {
    const script = join(scripts, `${endpoint.name.replace(/\W+/g, '-')}.lua`)
    writeFileSync(
      script,
      [
        `wrk.method = ${luaString(endpoint.method)}`,
        endpoint.body ? `wrk.body = ${luaString(endpoint.body)}` : '',
        endpoint.body ? 'wrk.headers["Content-Type"] = "application/json"' : '',
        endpoint.firstN === undefined
          ? ''
          : [
              `n = ${endpoint.firstN}`,
              'request = function()',
              '  local current = tostring(n)',
              '  n = n + 1',
              `  local path = string.gsub(${luaString(endpoint.path)}, "{n}", current)`,
              `  local body = wrk.body and string.gsub(wrk.body, "{n}", current)`,
              '  return wrk.format(nil, path, nil, body)',
              'end',
            ].join('\n'),
      ].join('\n'),
    )
    args.push('-s', script)
  }
  // A templated path is the script's to make: wrk is given the server only.
  const target = endpoint.firstN === undefined ? url : `${new URL(url).origin}/`
  const { stdout } = await promisify(execFile)('wrk', [...args, target])
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? 0)
  const ms = (percentile: string) => {
    const [, value, unit] = new RegExp(`^\\s+${percentile}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(stdout) ?? []
    return Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit as 'us' | 'ms' | 's'] ?? Number.NaN)
  }
  const requestsPerSecond = number(/^Requests\/sec:\s+([\d.]+)/m)
  const [, transfer, unit] = /^Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/m.exec(stdout) ?? []
  const bytesPerSecond = Number(transfer) * 1024 ** ['B', 'KB', 'MB', 'GB'].indexOf(unit)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  return {
    requestsPerSecond,
    p50: ms('50'),
    p99: ms('99'),
    errors:
      number(/Non-2xx or 3xx responses: (\d+)/) + (socketErrors?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0),
    bytes: bytesPerSecond / Math.max(requestsPerSecond, 1),
    requests: number(/^\s+(\d+) requests in/m),
  }
}
