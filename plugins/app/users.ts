import fp from 'fastify-plugin'
import { EmailTakenError, UsernameNotNormalizedError, UsernameTakenError } from '../../lib/errors.ts'
import { oncePerTurn } from '../../lib/once-per-turn.ts'
import {
  DEFAULT_LIMIT,
  type ListQuery,
  type NewUser,
  type User,
  type UserChanges,
  type UserRead,
} from '../../lib/schemas/users.ts'

interface UserRepository {
  /** One page (the JSON text of a UserPage) of the users matching the query, ordered by id, and how many match in all. */
  list(query: ListQuery): Promise<string>
  /** The user (User), read through the cache, or null when there is none with this id. */
  get(id: number): Promise<UserRead | null>
  /** Throws a 409 error naming the field when the username or email is taken. */
  create(user: NewUser): Promise<User>
  /**
   * The user a create of `user` left, if it is there: the one with exactly its
   * username and email. For a retry of a create whose outcome is unknown.
   */
  findCreated(user: NewUser): Promise<User | null>
  /** The updated user, or null when there is none with this id. Conflicts as in create. */
  update(id: number, changes: UserChanges): Promise<User | null>
  /** False when there is no user with this id. */
  remove(id: number): Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    users: UserRepository
  }
}

// to_json renders a timestamp as ISO 8601 (2026-01-31T12:00:00.123456), which
// is what the original's Python isoformat() returned.
const USER_COLUMNS = `id, username, email, full_name, department, to_json(created_at) #>> '{}' AS created_at`

// One statement, so the count and the page come from the same snapshot. It
// answers the page as the JSON text of a UserPage, compact like JSON.stringify
// (row_to_json keeps the columns' order): sent as it is, nothing in Node parses
// rows or serializes them again (a fifth less CPU per list in the app).
const LIST = `
  WITH matching AS (
    SELECT ${USER_COLUMNS} FROM users WHERE $1::text IS NULL OR department = $1
  )
  SELECT '{"total":' || (SELECT count(*) FROM matching) || ',"limit":' || $2::int || ',"offset":' || $3::int ||
         ',"users":[' || coalesce((SELECT string_agg(row_to_json(page)::text, ',' ORDER BY page.id)
                                    FROM (SELECT * FROM matching ORDER BY id LIMIT $2 OFFSET $3) AS page), '') ||
         ']}' AS page`

const GET = `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`

const FIND_CREATED = `SELECT ${USER_COLUMNS} FROM users WHERE username = $1 AND email = $2`

const INSERT = `
  INSERT INTO users (username, email, full_name, department) VALUES ($1, $2, $3, $4)
  RETURNING ${USER_COLUMNS}`

// jsonb_populate_record(users, changes) is the current row with the fields
// present in `changes` replaced, so absent fields keep their value and a JSON
// null clears a field.
const UPDATE = `
  UPDATE users SET (username, email, full_name, department) =
    (SELECT changed.username, changed.email, changed.full_name, changed.department
       FROM jsonb_populate_record(users, $2::jsonb) AS changed)
  WHERE id = $1
  RETURNING ${USER_COLUMNS}`

const DELETE = 'DELETE FROM users WHERE id = $1'

const UNIQUE_VIOLATION = '23505'

/**
 * A unique violation becomes a 409 naming the field. The constraint tells which:
 * users_username_key / users_email_key (exact) or users_*_lower_key (ignoring case).
 */
function conflict(err: unknown, user: UserChanges): unknown {
  const { code, constraint } = err as { code?: string; constraint?: string }
  if (code !== UNIQUE_VIOLATION) return err
  if (constraint?.startsWith('users_username_')) return new UsernameTakenError(user.username)
  if (constraint?.startsWith('users_email_')) return new EmailTakenError(user.email)
  return err
}

// Usernames must be NFC so that two spellings of one name (a precomposed 'é' and
// 'e' + U+0301) cannot become two users; the value is stored as sent.
function assertNormalized(username: string | undefined) {
  if (username !== undefined && username !== username.normalize('NFC')) throw new UsernameNotNormalizedError()
}

export default fp(
  async function usersPlugin(fastify) {
    const { db, userCache } = fastify

    async function load(id: number): Promise<User | null> {
      const { rows } = await db.read<User>({ name: 'users-get', text: GET, values: [id] })
      return rows[0] ?? null
    }

    // Lists asked for in the same turn of the event loop with the same query share one statement.
    const page = oncePerTurn(async (query) => {
      const { rows } = await db.read<{ page: string }>({ name: 'users-list', text: LIST, values: JSON.parse(query) })
      return rows[0].page
    })

    const users: UserRepository = {
      list({ limit = DEFAULT_LIMIT, offset = 0, department }) {
        return page(JSON.stringify([department ?? null, limit, offset]))
      },

      get(id) {
        return userCache.read(id, () => load(id))
      },

      async create(user) {
        assertNormalized(user.username)
        const values = [user.username, user.email, user.full_name ?? null, user.department ?? null]
        const { rows } = await db.query<User>({ name: 'users-insert', text: INSERT, values }).catch((err) => {
          throw conflict(err, user)
        })
        // A new id has no entry to drop, unless ids were ever reused (a restored
        // database): invalidate anyway, it is one round trip.
        await userCache.invalidate(rows[0].id)
        return rows[0]
      },

      async findCreated({ username, email }) {
        const { rows } = await db.read<User>({
          name: 'users-find-created',
          text: FIND_CREATED,
          values: [username, email],
        })
        return rows[0] ?? null
      },

      async update(id, changes) {
        assertNormalized(changes.username)
        const { username, email, full_name, department } = changes
        const values = [id, JSON.stringify({ username, email, full_name, department })]
        const { rows } = await db.query<User>({ name: 'users-update', text: UPDATE, values }).catch((err) => {
          throw conflict(err, changes)
        })
        if (rows.length === 0) return null
        await userCache.invalidate(id)
        return rows[0]
      },

      async remove(id) {
        const { rowCount } = await db.query({ name: 'users-delete', text: DELETE, values: [id] })
        if (!rowCount) return false
        await userCache.invalidate(id)
        return true
      },
    }
    fastify.decorate('users', users)
  },
  { name: 'users', dependencies: ['postgres', 'user-cache'], fastify: '5.x' },
)
