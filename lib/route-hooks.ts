import type { RouteOptions } from 'fastify'

type HookName = 'onRequest' | 'preValidation' | 'preHandler' | 'onSend'

/**
 * Adds `hook` after the route's own hooks of that kind, from an `onRoute` hook:
 * the way a plugin gives its work to the routes that ask for it, and to no other.
 */
export function appendRouteHook<Name extends HookName>(
  route: RouteOptions,
  name: Name,
  hook: NonNullable<RouteOptions[Name]> extends (infer Hook)[] | infer Single ? Hook | Single : never,
) {
  const existing = route[name]
  const hooks = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  ;(route as Record<HookName, unknown>)[name] = [...hooks, hook]
}
