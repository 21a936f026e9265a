import createError from '@fastify/error'

export const DatabaseUnavailableError = createError('DB_UNAVAILABLE', 'Database unavailable, try again later', 503)
export const CacheUnavailableError = createError('CACHE_UNAVAILABLE', 'Cache unavailable, try again later', 503)
export const CacheFullError = createError(
  'CACHE_FULL',
  'The cache is full and cannot store this value now, try again later',
  507,
)
export const CacheValueTooLargeError = createError(
  'CACHE_VALUE_TOO_LARGE',
  'value is %s bytes of JSON, more than the %s this cache stores',
  413,
)
export const CacheKeyNotFoundError = createError('CACHE_KEY_NOT_FOUND', "Key '%s' not found", 404)
export const MigrationsPendingError = createError('MIGRATIONS_PENDING', 'Schema migrations not applied yet', 503)
export const RateLimitedError = createError('RATE_LIMITED', 'Rate limit exceeded, retry in %s', 429)
export const UserNotFoundError = createError('USER_NOT_FOUND', 'User %s not found', 404)
// What Postgres refused in a write, when the resource names no error of its own
// for the constraint (lib/postgres-errors.ts).
export const AlreadyExistsError = createError(
  'ALREADY_EXISTS',
  'Conflicts with existing data: a value that must be unique is taken',
  409,
)
export const ReferenceNotFoundError = createError('REFERENCE_NOT_FOUND', 'Refers to something that does not exist', 422)
export const StillReferencedError = createError(
  'STILL_REFERENCED',
  'Other data still refers to it (%s): remove that first',
  409,
)
export const InvalidValueError = createError('INVALID_VALUE', 'A value cannot be stored: %s', 400)
export const UsernameTakenError = createError('USERNAME_TAKEN', "username '%s' is already taken", 409)
export const EmailTakenError = createError('EMAIL_TAKEN', "email '%s' is already taken", 409)
export const OffsetTooDeepError = createError(
  'OFFSET_TOO_DEEP',
  'offset may be at most %s: for deeper pages use after=<the last id of the page before> (the Link header of each page gives the next)',
  400,
)
export const UsernameNotNormalizedError = createError(
  'USERNAME_NOT_NFC',
  'username must be in Unicode normalization form C (NFC)',
  400,
)
// One answer for every rejected Authorization header (missing, malformed, wrong
// scheme, unknown key), so a client learns nothing about which keys exist.
export const UnauthorizedError = createError(
  'UNAUTHORIZED',
  'A valid API key is required: send Authorization: Bearer <key>',
  401,
)
export const OverloadedError = createError('OVERLOADED', 'Server overloaded, retry in %s seconds', 503)
export const IdempotencyKeyInUseError = createError(
  'IDEMPOTENCY_KEY_IN_USE',
  'A request with this Idempotency-Key is still in progress: retry once it has completed',
  409,
)
export const IdempotencyKeyReusedError = createError(
  'IDEMPOTENCY_KEY_REUSED',
  'This Idempotency-Key was used for a different request: send a new key with a new request',
  422,
)
export const IdempotencyUnavailableError = createError(
  'IDEMPOTENCY_UNAVAILABLE',
  'Idempotency keys cannot be checked now, try again later',
  503,
)
