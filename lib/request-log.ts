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
