/** A route's hooks of one kind (none, one or several, as Fastify's route options hold them) with `added` last. */
export function appendHook<T>(existing: T | T[] | undefined, added: T): T[] {
  return existing === undefined ? [added] : [...(Array.isArray(existing) ? existing : [existing]), added]
}
