import type { Server } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyHttpOptions } from 'fastify'
import fp from 'fastify-plugin'
import { destination } from 'pino'
import { type Config, trustProxy } from '../lib/config.ts'
import { requestId } from '../lib/request-id.ts'
import { RequestLog } from '../lib/request-log.ts'
import { MAX_KEY_LENGTH } from '../lib/schemas/cache.ts'
import { buildValidator } from '../lib/validation.ts'
import app from './app.ts'

// Longest encoded :key a URL can carry: MAX_KEY_LENGTH characters of up to 4
// UTF-8 bytes, each byte percent-encoded as 3 characters.
const MAX_PARAM_LENGTH = MAX_KEY_LENGTH * 4 * 3

const PRETTY_TRANSPORT = {
  target: 'pino-pretty',
  options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
}

// What the log may hold in memory while stdout cannot take it; beyond, lines are dropped.
const MAX_PENDING_LOG_BYTES = 8 * 1024 * 1024

/**
 * JSON lines to stdout, written asynchronously: under load the lines that
 * arrive while a write is in progress go out together in the next one (one
 * system call for many lines instead of one each), and a slow reader of the
 * pipe (Docker's log driver) never blocks the event loop. pino writes what is
 * pending synchronously when the process exits.
 */
function stdoutLog() {
  return destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES })
}

export interface LogOptions {
  /** Human-readable lines (pino-pretty) instead of JSON. Default: stdout is a terminal. */
  pretty?: boolean
  /** Where JSON lines go instead of stdout (tests read the log this way). */
  stream?: NodeJS.WritableStream
}

function serverOptions(
  config: Config,
  { pretty = process.stdout.isTTY === true, stream }: LogOptions = {},
): FastifyHttpOptions<Server> {
  const output = stream ? { stream } : pretty ? { transport: PRETTY_TRANSPORT } : { stream: stdoutLog() }
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["proxy-authorization"]',
          'res.headers["set-cookie"]',
          '*.password',
          '*.connectionString',
        ],
        censor: '[redacted]',
      },
      ...output,
    },
    // The caller's x-request-id when it is safe, else a new UUID (lib/request-id.ts).
    requestIdHeader: false,
    genReqId: requestId,
    logController: new RequestLog({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.BODY_LIMIT,
    // Whose X-Forwarded-For sets request.ip (the rate-limit key, the log's
    // remoteAddress): nobody's unless TRUST_PROXY names the proxies.
    trustProxy: trustProxy(config),
    // A field the schema does not know is a 400, not silently dropped: a typo
    // such as `fullname` must not look like a successful write.
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    schemaController: { compilersFactory: { buildValidator } },
    // Slow or idle clients cannot hold sockets: headers must arrive within
    // HTTP_HEADERS_TIMEOUT_MS and the whole request within HTTP_REQUEST_TIMEOUT_MS
    // (408, checked every second rather than Node's default 30 s), an idle
    // keep-alive socket is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS, and no
    // handler runs longer than HTTP_HANDLER_TIMEOUT_MS (503, see buildServer).
    http: {
      // Node requires headersTimeout <= requestTimeout.
      headersTimeout: Math.min(config.HTTP_HEADERS_TIMEOUT_MS, config.HTTP_REQUEST_TIMEOUT_MS),
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    // While closing, a request that still arrives on an open connection is
    // served (with `Connection: close`), not refused with a 503: the pool and
    // the Redis client close only after the last connection (plugins/app/drain.ts).
    return503OnClosing: false,
  }
}

/** The server the process runs and the tests use: Fastify options plus the app. */
export async function buildServer(config: Config, logOptions: LogOptions = {}) {
  const server = Fastify(serverOptions(config, logOptions)).withTypeProvider<TypeBoxTypeProvider>()
  // Fastify's handler timeout arms a timer, an AbortController and a listener
  // for every request (about 6 µs here): routes whose handler cannot wait go without.
  server.addHook('onRoute', (route) => {
    if (route.config?.synchronous !== true) route.handlerTimeout ??= config.HTTP_HANDLER_TIMEOUT_MS
  })
  await server.register(fp(app), { config })
  return server
}
