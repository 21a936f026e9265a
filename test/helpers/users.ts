import { randomUUID } from 'node:crypto'
import type { Server } from './app.ts'

/** A username and email no other test uses. */
export function uniqueUser(label = 'user') {
  const tag = randomUUID().slice(0, 8)
  return { username: `${label}.${tag}`, email: `${label}.${tag}@example.com` }
}

/** Creates a user with a unique username and email, plus `fields`; the created row. */
export async function createUser(app: Server, fields: Record<string, unknown> = {}) {
  const res = await app.inject({ method: 'POST', url: '/users', payload: { ...uniqueUser(), ...fields } })
  if (res.statusCode !== 201) throw new Error(`POST /users: ${res.statusCode} ${res.body}`)
  return res.json()
}
