import {
  AlreadyExistsError,
  DatabaseUnavailableError,
  InvalidValueError,
  ReferenceNotFoundError,
  StillReferencedError,
} from './errors.ts'

/**
 * What a violation of each of a statement's named constraints means, as the
 * error to answer with: `USERNAME_TAKEN` rather than the generic
 * `ALREADY_EXISTS`. Keyed by constraint (or unique index) name.
 */
export type ConstraintErrors = Partial<Record<string, () => Error>>

interface PostgresError {
  code?: unknown
  message?: unknown
  constraint?: string
  column?: string
  table?: string
}

// SQLSTATE classes that mean Postgres cannot serve right now, not that the
// request was wrong: connection (08), resources (53), operator intervention
// such as shutdown or statement timeout (57), system (58), auth (28), missing
// database (3D), and a table not created yet because migrations are pending.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58|28|3D)|^42P01$/

// The connection broke or could not be made, so the statement did not run (or
// ran as a read): Postgres is restarting or shutting down (57P01-57P03), the
// connection failed (08), or the socket did. Not a statement or query timeout:
// a server too slow for one attempt gets no second.
const CONNECTION_LOST_SQLSTATE = /^(08|57P0[123])/
const CONNECTION_LOST_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])
// pg's own errors carry no code, only these messages.
const CONNECTION_LOST_MESSAGE = /^Connection terminated|not queryable|^timeout exceeded when trying to connect/

/** The connection was lost or never made: a read may run again on a new one. */
export function isConnectionLost(err: unknown): boolean {
  const { code, message } = err as PostgresError
  if (typeof code === 'string') return CONNECTION_LOST_SQLSTATE.test(code) || CONNECTION_LOST_ERRNO.has(code)
  return typeof message === 'string' && CONNECTION_LOST_MESSAGE.test(message)
}

function isUnavailable(code: unknown): boolean {
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATE.test(code)
  // No SQLSTATE: a socket error (ECONNREFUSED, ENOTFOUND, ...) or one of pg's own
  // (connection timeout, query timeout, connection terminated).
  return true
}

// Values Postgres refused that the request's schema let through: the input is
// wrong, so a 400 that says which kind (the column or constraint when Postgres
// names it), never Postgres's own message.
const INVALID_VALUE: Record<string, (err: PostgresError) => string> = {
  '22001': () => 'a text is longer than its column holds',
  '22003': () => 'a number is out of the range its column holds',
  '22007': () => 'a date or time is not valid',
  '22008': () => 'a date or time is out of range',
  '22021': () => 'a text holds a character that cannot be stored',
  '22P02': () => 'a value is not in the form its column takes',
  '22P05': () => 'a text holds a character that cannot be stored',
  '23502': (err) => `${err.column ?? 'a field'} is required`,
  '23514': (err) => `it breaks the rule ${err.constraint ?? 'of its table'}`,
}

/**
 * The answer for an integrity error, or undefined for any other error. The
 * constraint's own error when `named` has one; else a unique or exclusion
 * violation is a 409; a foreign key a 422 when the statement writes a row that
 * refers to a missing one, a 409 when it deletes a row others still refer to
 * (told apart by the statement: a DELETE can only do the second, an INSERT or
 * UPDATE of the app's only the first, since ids never change); an invalid
 * value a 400.
 */
function integrityError(err: PostgresError, statement: string, named: ConstraintErrors): Error | undefined {
  const { code, constraint } = err
  if (typeof code !== 'string' || !/^2[23]/.test(code)) return undefined
  const own = constraint === undefined ? undefined : named[constraint]
  if (own) return own()
  if (code === '23505' || code === '23P01') return new AlreadyExistsError()
  if (code === '23503' && !/^\s*DELETE\b/i.test(statement)) return new ReferenceNotFoundError()
  if (code === '23503' || code === '23001') return new StillReferencedError(err.table ?? 'another table')
  const invalid = INVALID_VALUE[code]
  return invalid === undefined ? undefined : new InvalidValueError(invalid(err))
}

/**
 * What a failed statement means for the request: an integrity error (a 4xx),
 * Postgres unavailable (503), or else the error itself (a 500, logged).
 */
export function statementError(err: unknown, statement: string, named: ConstraintErrors = {}): Error {
  const integrity = integrityError(err as PostgresError, statement, named)
  if (integrity) return Object.assign(integrity, { cause: err })
  if (isUnavailable((err as PostgresError).code)) return new DatabaseUnavailableError({ cause: err })
  return err as Error
}
