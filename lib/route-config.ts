import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * For a retry whose earlier attempt may have written (its replica died, or its
 * answer could not be kept, before the answer was stored): finds what that
 * attempt wrote and sends the answer it would have sent (true), or leaves the
 * handler to run again (false).
 */
export type ResumeAttempt = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>

/**
 * Every flag a route may set in its `config`, what it means and which module
 * reads it. One more comes from @fastify/rate-limit itself: `rateLimit: false`
 * leaves the route out of the rate limit (probes, scrapes).
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: answered however overloaded the process is (probes, scrapes). plugins/external/under-pressure.ts */
    shedLoad?: boolean
    /** false: no completion line for this route (probes, scrapes); its other log lines stay. lib/request-log.ts */
    requestLog?: boolean
    /** The handler waits on nothing (no I/O): it needs no handler timeout. src/build.ts */
    synchronous?: boolean
    /**
     * The route honours the Idempotency-Key request header, which its schema declares;
     * with `resume`, it recognises what an earlier attempt of the same request wrote.
     * plugins/app/idempotency.ts
     */
    idempotencyKey?: true | { resume: ResumeAttempt }
    /**
     * The route's name among the `endpoints` of GET / (plugins/app/endpoints.ts): the
     * original's names are kept this way; without it, a route is listed under its operationId.
     */
    endpoint?: string
  }
}
