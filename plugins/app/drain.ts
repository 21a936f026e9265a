import fp from 'fastify-plugin'

/**
 * While the server closes, every answer still in flight carries
 * `Connection: close`, so its keep-alive socket ends with it. Without this an
 * idle keep-alive socket left behind by such a request holds close() open
 * until the client drops it.
 */
export default fp(
  async function drainPlugin(fastify) {
    let closing = false
    fastify.addHook('preClose', async () => {
      closing = true
    })
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) reply.header('connection', 'close')
      done(null, payload)
    })
  },
  { name: 'drain', fastify: '5.x' },
)
