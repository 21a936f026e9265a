import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/**
 * One line per request, when it completes: method, url, host, client address
 * (`req`), status (`res`), `responseTime` in ms and the request id, at info
 * (error when the response failed). Fastify's default writes two lines (one on
 * arrival, one on completion) and a third for a 404; each line costs a
 * serialization, a redaction pass and a write.
 */
export class RequestLog extends LogController {
  private completionLog?: FastifyBaseLogger

  override incomingRequest() {}

  override routeNotFound() {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (request.routeOptions.config.requestLog === false) return
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
      return
    }
    // The line holds only the fields below: serialized request and reply
    // (no headers), a number and the id. None of the redacted paths (headers,
    // passwords, connection strings) can occur in it, so it skips the
    // redaction pass, which costs as much as the rest of the line.
    this.completionLog ??= request.server.log.child({}, { redact: { paths: [] } })
    this.completionLog.info(
      { [this.requestIdLogLabel]: request.id, req: request, res: reply, responseTime: reply.elapsedTime },
      'request completed',
    )
  }
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>
type ParentLogger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean }

/**
 * A request's logger (`request.log`) that becomes a pino child logger only when
 * the request logs something of its own. Most requests never do (their
 * completion line is written apart, see RequestLog), and making a child costs a
 * serialization and a redaction pass of its bindings on every request: about
 * 6 µs of a 60 µs route here (docs/performance.md).
 */
class LazyChildLogger implements FastifyBaseLogger {
  readonly #parent: ParentLogger
  readonly #bindings: Bindings
  #child: FastifyBaseLogger | undefined

  constructor(parent: FastifyBaseLogger, bindings: Bindings) {
    this.#parent = parent as ParentLogger
    this.#bindings = bindings
  }

  #made(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings)
    return this.#child
  }

  #log(level: Level, args: unknown[]) {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return
    ;(this.#made()[level] as (...args: unknown[]) => void)(...args)
  }

  get level() {
    return this.#child?.level ?? this.#parent.level
  }

  set level(level) {
    this.#made().level = level
  }

  fatal(...args: unknown[]) {
    this.#log('fatal', args)
  }

  error(...args: unknown[]) {
    this.#log('error', args)
  }

  warn(...args: unknown[]) {
    this.#log('warn', args)
  }

  info(...args: unknown[]) {
    this.#log('info', args)
  }

  debug(...args: unknown[]) {
    this.#log('debug', args)
  }

  trace(...args: unknown[]) {
    this.#log('trace', args)
  }

  silent() {}

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#made().child(bindings, options)
  }
}

/**
 * Fastify's `childLoggerFactory`: lazy request loggers, except for a route
 * with a log level of its own (its child must exist to carry it).
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
  return options.level ? logger.child(bindings, options) : new LazyChildLogger(logger, bindings)
}
