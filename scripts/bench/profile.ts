// Where the app's CPU time goes: a V8 CPU profile (`node --cpu-prof`) of the
// app under load, its samples in a time window put into buckets by the code
// they were in (the function's own time, not its callees').
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Each bucket: the packages (node_modules/<name>/), project files and native functions it covers. */
export const BUCKETS: [name: string, matches: RegExp][] = [
  [
    'request logging',
    /node_modules\/(pino|@pinojs\/[^/]+|sonic-boom|pino-std-serializers|fast-redact)\/|request-log|^writeString$/,
  ],
  ['metrics', /node_modules\/(fastify-metrics|@prometheus-io\/client)\//],
  ['rate limiting', /node_modules\/@fastify\/rate-limit\/|plugins\/(external\/)?rate-limit/],
  ['security headers', /node_modules\/helmet\/|plugins\/(external\/)?security/],
  ['request ids', /request-id/],
  [
    'redis client',
    /node_modules\/(ioredis|@ioredis\/[^/]+|redis-parser|redis-errors|denque|standard-as-callback|cluster-key-slot)\//,
  ],
  ['postgres client', /node_modules\/(pg|pg-[^/]+|postgres-[^/]+|@fastify\/postgres)\//],
  [
    'validation, serialization',
    /node_modules\/(ajv|fast-json-stringify|@fastify\/ajv-compiler|@fastify\/fast-json-stringify-compiler|fast-uri|json-schema-ref-resolver)\/|validation/,
  ],
  ['socket writes (kernel)', /^(writeUtf8String|writev|writeBuffer|writeLatin1String|writeAsciiString)$/],
  ['garbage collection', /^\(garbage collector\)$/],
  ['app code (plugins, routes)', /^(?!.*node_modules).*\/(plugins|routes|src|lib)\//],
  [
    'HTTP and Fastify',
    /node_modules\/(fastify|find-my-way|fast-querystring|light-my-request|@fastify\/[^/]+|avvio|abstract-logging|process-warning|rfdc|toad-cache|fast-decode-uri-component|safe-regex2|ret)\/|^node:|^$/,
  ],
]

export interface Attribution {
  /** Busy time in the window, ms (idle excluded). */
  busyMs: number
  shares: Map<string, number>
}

/** Buckets the samples taken between `fromUs` and `toUs` (the monotonic clock of process.hrtime, in µs). */
export function attribute(file: string, fromUs: number, toUs: number): Attribution {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const bucketOf = new Map<number, string | undefined>()
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame
    if (functionName === '(idle)') {
      bucketOf.set(node.id, undefined)
      continue
    }
    const subject = url === '' ? functionName : url.replace(/^file:\/\//, '')
    bucketOf.set(node.id, BUCKETS.find(([, matches]) => matches.test(subject))?.[0] ?? 'other')
  }
  const totals = new Map<string, number>()
  let at = profile.startTime
  let busy = 0
  for (const [i, sample] of profile.samples.entries()) {
    at += profile.timeDeltas[i]
    if (at < fromUs || at > toUs) continue
    const bucket = bucketOf.get(sample)
    const delta = profile.timeDeltas[i + 1] ?? 0
    if (bucket === undefined) continue
    busy += delta
    totals.set(bucket, (totals.get(bucket) ?? 0) + delta)
  }
  const shares = new Map([...totals].map(([bucket, us]) => [bucket, us / Math.max(busy, 1)]))
  return { busyMs: busy / 1000, shares }
}
