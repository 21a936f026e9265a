import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import type { Config } from '../../lib/config.ts'
import { errorBody } from '../../lib/schemas/error.ts'

const NOT_FOUND = JSON.stringify(errorBody(404, undefined, 'Only GET /metrics is served here'))

/**
 * With METRICS_PORT set, /metrics is served by a second, minimal listener on
 * that port (on HOST), and the public port no longer has it: the scraper
 * reaches the metrics without them being public, as long as METRICS_PORT is not
 * published (compose) or is kept to the scraper (a NetworkPolicy). It starts
 * with the app and closes with it; a port already taken stops the start.
 */
export default fp(
  async function metricsPortPlugin(fastify, { config }: { config: Config }) {
    if (config.METRICS_PORT === 0) return
    const log = fastify.log.child({ plugin: 'metrics-port' })
    const registry = fastify.metricsRegistry

    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(NOT_FOUND)
        return
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, 'metrics could not be collected')
          response.writeHead(500).end()
        },
      )
    })
    server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS
    server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS

    fastify.addHook('onReady', async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.METRICS_PORT, config.HOST, () => {
          server.off('error', reject)
          resolve()
        })
      })
      const { address, port } = server.address() as AddressInfo
      log.info({ address, port }, 'metrics served on their own port, not on the public one')
    })
    fastify.addHook('onClose', async () => {
      if (!server.listening) return
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
  },
  { name: 'metrics-port', dependencies: ['metrics'], fastify: '5.x' },
)
