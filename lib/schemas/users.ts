import { type Static, Type } from '@sinclair/typebox'

export const DEFAULT_LIMIT = 100
const MAX_LIMIT = 100
/** The deepest `offset` served: skipped rows are still read, so deeper pages go by `after`. */
export const MAX_OFFSET = 1000
/** Ids are a Postgres `serial` (int4): none is larger, and no table has more rows. */
const MAX_ID = 2_147_483_647

/**
 * Usernames: 3 to 50 characters, letters, marks, digits, `.`, `_`, `-`, starting with a letter or digit.
 * A-Z, a-z and 0-9 are in \p{L} and \p{Nd} already; listed too, they let OpenAPI linters that read
 * patterns without the `u` flag (where \p{...} means nothing) check the examples.
 */
const USERNAME_PATTERN = '^[A-Za-z0-9\\p{L}\\p{Nd}][A-Za-z0-9\\p{L}\\p{M}\\p{Nd}._-]*$'
// Free text: no control characters (\p{Cc}: U+0000-U+001F, U+007F-U+009F) or lone
// surrogates (\p{Cs}), no space at either end. Spelt as ranges, which linters
// reading the pattern without the `u` flag understand too.
const NOT_TEXT = '\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff'
const TEXT_PATTERN = `^[^\\s${NOT_TEXT}](?:[^${NOT_TEXT}]*[^\\s${NOT_TEXT}])?$`

const Username = Type.String({
  minLength: 3,
  maxLength: 50,
  pattern: USERNAME_PATTERN,
  description:
    '3 to 50 characters: Unicode letters (with combining marks), decimal digits, `.`, `_` and `-`, ' +
    'starting with a letter or digit, in Unicode NFC. Unique ignoring letter case.',
  examples: ['jsilva'],
})

const Email = Type.String({
  format: 'email',
  maxLength: 100,
  description: 'An email address, at most 100 characters. Unique ignoring letter case.',
  examples: ['joao.silva@empresa.com'],
})

// `type: [string, null]` rather than anyOf: Fastify coerces types, and with
// anyOf it would turn a null into "" (or "" into null) on the way in.
const NullableText = (maxLength: number, example: string) =>
  Type.Unsafe<string | null>({
    type: ['string', 'null'],
    minLength: 1,
    maxLength,
    pattern: TEXT_PATTERN,
    description: `Up to ${maxLength} characters, no control characters, no space at either end; null clears it`,
    examples: [example],
  })

const FullName = NullableText(100, 'João Silva')
const Department = NullableText(50, 'Desenvolvimento')

// `type: [string, null]` on the way out too: serialized by a type check, where
// anyOf runs a schema validator per value (3% more pages of 100 users a second).
const StringOrNull = (options: { description?: string; examples: string[] }) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], ...options })

export const User = Type.Object(
  {
    id: Type.Integer({ examples: [1] }),
    username: Type.String({ examples: ['jsilva'] }),
    email: Type.String({ examples: ['joao.silva@empresa.com'] }),
    full_name: StringOrNull({ examples: ['João Silva'] }),
    department: StringOrNull({ examples: ['Desenvolvimento'] }),
    created_at: StringOrNull({
      description: 'ISO 8601 timestamp without a zone (the column is `timestamp`)',
      examples: ['2026-11-29T15:30:59.123456'],
    }),
  },
  { $id: 'User', title: 'User' },
)
export type User = Static<typeof User>

export const UserPage = Type.Object(
  {
    total: Type.Integer({ description: 'How many users match the filter (all pages)', examples: [10] }),
    limit: Type.Integer({ description: 'The page size asked for', examples: [DEFAULT_LIMIT] }),
    offset: Type.Integer({ description: 'How many matching users were skipped', examples: [0] }),
    next: StringOrNull({
      description: 'The URL of the next page, as in the `Link` header; null on the last page',
      examples: ['/users?after=100&limit=100'],
    }),
    users: Type.Array(Type.Ref(User), { description: 'This page, ordered by id' }),
  },
  { $id: 'UserPage', title: 'UserPage' },
)
export type UserPage = Static<typeof UserPage>

export const ListQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Page size, 1 to 100' }),
  ),
  after: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_ID,
      description:
        'Only users with a larger id: the last id of the previous page (keyset paging; the `Link` header of each ' +
        'page gives the next)',
      examples: [100],
    }),
  ),
  offset: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_ID,
      default: 0,
      description: `How many matching users to skip (after \`after\`, when given): at most ${MAX_OFFSET}, else a 400; deeper pages go by \`after\``,
    }),
  ),
  department: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 50,
      pattern: TEXT_PATTERN,
      description: 'Only users of this department (exact, case-sensitive match)',
      examples: ['Design'],
    }),
  ),
})
export type ListQuery = Static<typeof ListQuery>

export const UserId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: MAX_ID, description: 'The user id' }) })
export type UserId = Static<typeof UserId>

export const NewUser = Type.Object(
  {
    username: Username,
    email: Email,
    full_name: Type.Optional(FullName),
    department: Type.Optional(Department),
  },
  {
    $id: 'NewUser',
    title: 'NewUser',
    additionalProperties: false,
    examples: [{ username: 'nsouza', email: 'nina.souza@empresa.com', full_name: 'Nina Souza', department: 'QA' }],
  },
)
export type NewUser = Static<typeof NewUser>

export const UserChanges = Type.Object(
  {
    username: Type.Optional(Username),
    email: Type.Optional(Email),
    full_name: Type.Optional(FullName),
    department: Type.Optional(Department),
  },
  {
    $id: 'UserChanges',
    title: 'UserChanges',
    description: 'The fields to change (at least one); the others keep their value',
    additionalProperties: false,
    minProperties: 1,
    examples: [{ department: 'DevOps' }],
  },
)
export type UserChanges = Static<typeof UserChanges>

/** Where a read was served from: the cache, Postgres then cached, or Postgres alone (cache unusable). */
export const CacheOutcome = Type.Union([Type.Literal('hit'), Type.Literal('miss'), Type.Literal('bypass')])
export type CacheOutcome = Static<typeof CacheOutcome>

/** A user as read through the cache, and where it came from. */
export interface UserRead {
  user: User
  cache: CacheOutcome
}

/** Headers of GET /users/:id. */
export const UserReadHeaders = {
  'x-cache': {
    type: 'string',
    enum: CacheOutcome.anyOf.map((outcome) => outcome.const),
    description:
      '`hit`: served from the Redis cache; `miss`: read from Postgres, then cached; ' +
      '`bypass`: read from Postgres only (Redis unavailable, or an invalidation of this user still pending)',
  },
}

/** Headers of GET /users. */
export const UserPageHeaders = {
  link: {
    type: 'string',
    description: 'On every page but the last: the next page\'s URL, `<url>; rel="next"` (RFC 8288)',
    examples: ['</users?after=100&limit=100>; rel="next"'],
  },
}

/** Headers of POST /users. */
export const UserCreatedHeaders = {
  location: { type: 'string', description: 'The new user’s URL, `/users/{id}`', examples: ['/users/11'] },
}
