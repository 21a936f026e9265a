import fastifyUnderPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'
import { OverloadedError } from '../../lib/errors.ts'
import { REQUEST_ID_HEADER } from '../../lib/request-id.ts'
import { errorBody } from '../../lib/schemas/error.ts'

/**
 * Load shedding with @fastify/under-pressure: while the event loop lags more
 * than OVERLOAD_MAX_EVENT_LOOP_DELAY_MS on average over the last sample (or is
 * busier than OVERLOAD_MAX_EVENT_LOOP_UTILIZATION, when set), requests get an
 * immediate 503 with `Retry-After` instead of queueing until clients time out;
 * a balancer sends them to another replica. Routes opt out with
 * `config: { shedLoad: false }`. Per request it costs one check of two numbers
 * the plugin updates once per OVERLOAD_SAMPLE_INTERVAL_MS.
 *
 * A shed request is answered here, without the error handler: logging each at
 * error level would add work exactly when there is too much. The log says
 * instead, at most once per sample, how many were shed and why.
 */
export default fp(
  async function underPressurePlugin(fastify, { config }: { config: Config }) {
    const log = fastify.log.child({ plugin: 'under-pressure' })
    const maxEventLoopDelay = config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS
    const maxEventLoopUtilization = config.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION
    if (maxEventLoopDelay === 0 && maxEventLoopUtilization === 0) {
      log.info('load shedding disabled (OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0, OVERLOAD_MAX_EVENT_LOOP_UTILIZATION=0)')
      return
    }

    const retryAfter = config.OVERLOAD_RETRY_AFTER_SECONDS
    const error = new OverloadedError(retryAfter)
    const body = errorBody(503, error.code, error.message)
    // The first samples measure the start (compiling schemas, connecting): a
    // replica must not shed its first requests for having started. Pressure
    // counts from the second full sample after ready.
    const interval = config.OVERLOAD_SAMPLE_INTERVAL_MS
    let armedAt = Number.POSITIVE_INFINITY
    fastify.addHook('onReady', async () => {
      armedAt = Date.now() + 2 * interval
    })
    let shed = 0
    let reportedAt = 0
    /** The body of the 503 for a request to shed; undefined lets the request go on. */
    function shedOrPass(request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) {
      if (request.routeOptions.config.shedLoad === false || Date.now() < armedAt) return undefined
      shed++
      const now = Date.now()
      if (now - reportedAt >= interval) {
        log.warn({ type, value, shed }, 'overloaded: shedding requests with 503')
        reportedAt = now
        shed = 0
      }
      // Before the request-id plugin's hook: the id is set here, as on every answer.
      reply.code(503).header('retry-after', retryAfter).header(REQUEST_ID_HEADER, request.id)
      return body
    }

    await fastify.register(fastifyUnderPressure, {
      maxEventLoopDelay,
      maxEventLoopUtilization,
      // Utilisation over the last sample, not since start.
      eventLoopUtilizationMode: 'interval',
      sampleInterval: interval,
      // It sends what the handler returns, when that is not undefined (its types say void).
      pressureHandler: shedOrPass as FastifyUnderPressureOptions['pressureHandler'],
    })
  },
  { name: 'under-pressure', fastify: '5.x' },
)
