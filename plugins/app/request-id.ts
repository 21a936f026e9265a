import fp from 'fastify-plugin'
import { REQUEST_ID_HEADER } from '../../lib/request-id.ts'

/** Returns the request id (lib/request-id.ts) in every response, errors and 404s included. */
export default fp(
  async function requestIdPlugin(fastify) {
    fastify.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id)
      done()
    })
  },
  { name: 'request-id', fastify: '5.x' },
)
