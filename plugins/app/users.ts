import fp from 'fastify-plugin'
import {
  EmailTakenError,
  OffsetTooDeepError,
  UsernameNotNormalizedError,
  UsernameTakenError,
} from '../../lib/errors.ts'
import { oncePerTurn } from '../../lib/once-per-turn.ts'
import type { ConstraintErrors } from '../../lib/postgres-errors.ts'
import {
  DEFAULT_LIMIT,
  type ListQuery,
  MAX_OFFSET,
  type NewUser,
  type User,
  type UserChanges,
  type UserPage,
  type UserRead,
} from '../../lib/schemas/users.ts'

interface UserRepository {
  /** One page of the users matching the query, ordered by id, how many match in all, and the next page's URL. */
  list(query: ListQuery): Promise<UserPage>
  /** The user, read through the cache, or null when there is none with this id. */
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

// Users are read as whole rows in JSON (row_to_json renders created_at in ISO
// 8601, 2026-01-31T12:00:00.123456, as the original's Python isoformat() did):
// what reaches a client is what the route's response schema declares, whatever
// columns the table holds.

// A page and its total in one statement: one round trip, one snapshot. The
// total is the sum of the counts the triggers keep (sql/004_user-counts.sql);
// the page is read from an index in id order, from `after` on, one row more
// than asked for, which tells whether there is a next page. (Exported for the
// test of their plans.)
export const LIST_ALL = `
  SELECT json_build_object(
    'total', (SELECT coalesce(sum(users), 0) FROM user_counts),
    'users', (SELECT coalesce(json_agg(page ORDER BY page.id), '[]')
                FROM (SELECT * FROM users WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3) AS page)
  ) AS page`

// The department's rows as a range of the (department, id) index rather than
// `department = $1`: with an equality, the planner may walk the primary key and
// filter, which reads every row after `after` when a department's users are
// not spread evenly over the ids; ordered by (department, id), only that index
// serves the range in order.
export const LIST_DEPARTMENT = `
  SELECT json_build_object(
    'total', (SELECT coalesce(sum(users), 0) FROM department_user_counts WHERE department = $1),
    'users', (SELECT coalesce(json_agg(page ORDER BY page.id), '[]')
                FROM (SELECT * FROM users WHERE (department, id) > ($1, $2) AND department <= $1
                      ORDER BY department, id LIMIT $3 OFFSET $4) AS page)
  ) AS page`

// As text: the cache keeps it as it is.
const GET = 'SELECT row_to_json(users)::text AS user FROM users WHERE id = $1'

const FIND_CREATED = 'SELECT row_to_json(users) AS user FROM users WHERE username = $1 AND email = $2'

const INSERT = `
  INSERT INTO users (username, email, full_name, department) VALUES ($1, $2, $3, $4)
  RETURNING row_to_json(users) AS user`

// jsonb_populate_record(users, changes) is the current row with the fields
// present in `changes` replaced, so absent fields keep their value and a JSON
// null clears a field.
const UPDATE = `
  UPDATE users SET (username, email, full_name, department) =
    (SELECT changed.username, changed.email, changed.full_name, changed.department
       FROM jsonb_populate_record(users, $2::jsonb) AS changed)
  WHERE id = $1
  RETURNING row_to_json(users) AS user`

const DELETE = 'DELETE FROM users WHERE id = $1'

/**
 * A username or email taken is a 409 naming the field. Each is unique twice:
 * exactly (sql/001's users_*_key) and ignoring case (sql/003's users_*_lower_key).
 */
const taken = (user: UserChanges): ConstraintErrors => ({
  users_username_key: () => new UsernameTakenError(user.username),
  users_username_lower_key: () => new UsernameTakenError(user.username),
  users_email_key: () => new EmailTakenError(user.email),
  users_email_lower_key: () => new EmailTakenError(user.email),
})

// Usernames must be NFC so that two spellings of one name (a precomposed 'é' and
// 'e' + U+0301) cannot become two users; the value is stored as sent.
function assertNormalized(username: string | undefined) {
  if (username !== undefined && username !== username.normalize('NFC')) throw new UsernameNotNormalizedError()
}

type PageQuery = Required<Omit<ListQuery, 'department'>> & { department: string | null }

/** The URL of the page after the one that ended with `lastId`: the same size and filter. */
function nextPage(lastId: number, limit: number, department: string | null): string {
  const filter = department === null ? '' : `&department=${encodeURIComponent(department)}`
  return `/users?after=${lastId}&limit=${limit}${filter}`
}

export default fp(
  async function usersPlugin(fastify) {
    const { db, userCache } = fastify

    async function load(id: number): Promise<string | null> {
      const { rows } = await db.read<{ user: string }>({ name: 'users-get', text: GET, values: [id] })
      return rows[0]?.user ?? null
    }

    // Lists asked for in the same turn of the event loop with the same query share one statement.
    const page = oncePerTurn(async (key): Promise<UserPage> => {
      const { department, after, limit, offset }: PageQuery = JSON.parse(key)
      const { rows } = await db.read<{ page: Pick<UserPage, 'total' | 'users'> }>(
        department === null
          ? { name: 'users-list', text: LIST_ALL, values: [after, limit + 1, offset] }
          : { name: 'users-list-department', text: LIST_DEPARTMENT, values: [department, after, limit + 1, offset] },
      )
      const { total, users } = rows[0].page
      const more = users.length > limit
      if (more) users.pop()
      return {
        total,
        limit,
        offset,
        next: more ? nextPage(users[users.length - 1].id, limit, department) : null,
        users,
      }
    })

    const users: UserRepository = {
      async list({ after = 0, limit = DEFAULT_LIMIT, offset = 0, department }) {
        if (offset > MAX_OFFSET) throw new OffsetTooDeepError(MAX_OFFSET)
        const query: PageQuery = { department: department ?? null, after, limit, offset }
        return page(JSON.stringify(query))
      },

      get(id) {
        return userCache.read(id, () => load(id))
      },

      async create(user) {
        assertNormalized(user.username)
        const values = [user.username, user.email, user.full_name ?? null, user.department ?? null]
        const { rows } = await db.query<{ user: User }>({ name: 'users-insert', text: INSERT, values }, taken(user))
        const created = rows[0].user
        // A new id has no entry to drop, unless ids were ever reused (a restored
        // database): invalidate anyway, it is one round trip.
        await userCache.invalidate(created.id)
        return created
      },

      async findCreated({ username, email }) {
        const { rows } = await db.read<{ user: User }>({
          name: 'users-find-created',
          text: FIND_CREATED,
          values: [username, email],
        })
        return rows[0]?.user ?? null
      },

      async update(id, changes) {
        assertNormalized(changes.username)
        const { username, email, full_name, department } = changes
        const values = [id, JSON.stringify({ username, email, full_name, department })]
        const { rows } = await db.query<{ user: User }>({ name: 'users-update', text: UPDATE, values }, taken(changes))
        if (rows.length === 0) return null
        await userCache.invalidate(id)
        return rows[0].user
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
