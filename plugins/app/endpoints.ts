import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Name → path of every named route, as GET / lists them (`/users/<id> (PATCH)`); complete once ready. */
    endpoints: Record<string, string>
  }
}

/**
 * A route's path as the original wrote it: parameters in angle brackets, no
 * trailing slash, the method after any but GET.
 */
function describe(route: RouteOptions): string {
  const path = route.url.replace(/:(\w+)/g, '<$1>').replace(/(.)\/$/, '$1')
  const methods = [route.method].flat()
  return methods.includes('GET') ? path : `${path} (${methods.join(', ')})`
}

/**
 * The route table GET / answers with: every route that has a name, its
 * `config.endpoint` or else its operationId, so a new resource's routes appear
 * there by themselves. Registered before any route, to see them all.
 */
export default fp(
  async function endpointsPlugin(fastify) {
    const routes: RouteOptions[] = []
    fastify.addHook('onRoute', (route) => {
      if (route.method !== 'HEAD') routes.push(route)
    })
    const endpoints: Record<string, string> = {}
    // Names are read once every plugin's onRoute hook has run (the docs route is named by its plugin).
    fastify.addHook('onReady', async () => {
      for (const route of routes) {
        const name = route.config?.endpoint ?? route.schema?.operationId
        if (name !== undefined) endpoints[name] ??= describe(route)
      }
      routes.length = 0
    })
    fastify.decorate('endpoints', endpoints)
  },
  { name: 'endpoints', fastify: '5.x' },
)
