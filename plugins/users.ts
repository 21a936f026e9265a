import fp from 'fastify-plugin'

export interface User {
  id: number
  username: string
  email: string
  full_name: string | null
  department: string | null
  /** ISO 8601 without a zone, as the original returned it (the column is `timestamp`). */
  created_at: string | null
}

export interface UserRepository {
  list(): Promise<{ total: number; users: User[] }>
}

declare module 'fastify' {
  interface FastifyInstance {
    users: UserRepository
  }
}

// to_json renders a timestamp as ISO 8601 (2026-01-31T12:00:00.123456), which
// is what the original's Python isoformat() returned.
const USER_COLUMNS = `id, username, email, full_name, department, to_json(created_at) #>> '{}' AS created_at`

export default fp(
  async function usersPlugin(fastify) {
    const users: UserRepository = {
      async list() {
        const { rows } = await fastify.db.query<User>({ text: `SELECT ${USER_COLUMNS} FROM users ORDER BY id` })
        return { total: rows.length, users: rows }
      },
    }
    fastify.decorate('users', users)
  },
  { name: 'users', dependencies: ['db'], fastify: '5.x' },
)
