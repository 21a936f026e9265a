import { randomUUID } from 'node:crypto'
import { type Server, services, withClient } from './app.ts'

/** A new Idempotency-Key field, in the draft's form: a quoted string. */
export const newKey = () => `"${randomUUID()}"`

/** A key prefix of its own, to pass as REDIS_KEY_PREFIX: replicas that share it share their idempotency keys. */
export const newPrefix = () => `idem-${randomUUID()}:`

/** How many users have this username, in this file's database. */
export async function usersNamed(username: string): Promise<number> {
  const { databaseUrl } = await services()
  const { rows } = await withClient(databaseUrl, (client) =>
    client.query('SELECT count(*)::int AS n FROM users WHERE username = $1', [username]),
  )
  return rows[0].n
}

/** What Redis holds for the idempotency keys under `prefix`: each stored value and its ms to live, by Redis key. */
export async function idempotencyRecords(app: Server, prefix: string) {
  const raw = app.redis.duplicate({ keyPrefix: '', enableOfflineQueue: true })
  try {
    const keys = await raw.keys(`${prefix}idempotency:*`)
    return await Promise.all(keys.map(async (key) => ({ key, value: await raw.get(key), ttlMs: await raw.pttl(key) })))
  } finally {
    await raw.quit()
  }
}
