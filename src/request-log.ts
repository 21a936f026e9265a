import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: no completion line for this route (probes, scrapes); its other log lines stay. */
    requestLog?: boolean
  }
}

/**
 * One line per request, when it completes: method, url, host, client address
 * (`req`), status (`res`), `responseTime` in ms and the request id, at info
 * (error when the response failed). Fastify's default writes two lines (one on
 * arrival, one on completion) and a third for a 404; each line costs a
 * serialization, a redaction pass and a write.
 */
export class RequestLog extends LogController {
  override incomingRequest() {}

  override routeNotFound() {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (request.routeOptions.config.requestLog === false) return
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }
}
