import { STATUS_CODES } from 'node:http'
import { type Static, Type } from '@sinclair/typebox'

/** Every error body, as Fastify formats it: `{ statusCode, code?, error, message }` (no `code` on a 500). */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ description: 'The HTTP status code', examples: [400] }),
    code: Type.Optional(
      Type.String({ description: 'A stable, machine-readable error code', examples: ['FST_ERR_VALIDATION'] }),
    ),
    error: Type.String({ description: 'The HTTP status text', examples: ['Bad Request'] }),
    message: Type.String({ description: 'What went wrong', examples: ["body must have required property 'key'"] }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse', description: 'An error, in Fastify’s format' },
)

type ErrorResponse = Static<typeof ErrorResponse>

/**
 * The body of every error the service answers: the error handler's, a shed
 * request's, the metrics port's 404, and the examples of the documentation.
 */
export function errorBody(
  statusCode: number,
  code: string | undefined,
  message: string,
  error = STATUS_CODES[statusCode] ?? 'Error',
): ErrorResponse {
  return code === undefined ? { statusCode, error, message } : { statusCode, code, error, message }
}

const ErrorRef = Type.Ref(ErrorResponse)

type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 414 | 415 | 422 | 429 | 500 | 503 | 507

interface ErrorDoc {
  description: string
  /** The example body's code, message and (when it is not the status text) error. */
  example: [code: string | undefined, message: string, error?: string]
}

// What each error status means, with an example body for the documentation.
const ERRORS: Record<ErrorStatus, ErrorDoc> = {
  400: {
    description:
      'The request is invalid: the message says which part and why (`FST_ERR_VALIDATION`; a value the database ' +
      'cannot store: `INVALID_VALUE`)',
    example: ['FST_ERR_VALIDATION', "body must have required property 'key'"],
  },
  401: {
    description:
      'The server has API keys (API_KEYS) and the request carries none, or not a valid one: send ' +
      '`Authorization: Bearer <key>`. The same answer whatever was wrong',
    example: ['UNAUTHORIZED', 'A valid API key is required: send Authorization: Bearer <key>'],
  },
  404: { description: 'Not found', example: ['CACHE_KEY_NOT_FOUND', "Key 'user:1' not found"] },
  409: {
    description:
      'Conflicts with existing data: a value that must be unique is taken (`ALREADY_EXISTS`, or a code naming ' +
      'the field, such as `USERNAME_TAKEN`), or other data still refers to what a delete would remove ' +
      '(`STILL_REFERENCED`); or a request with the same `Idempotency-Key` is still in progress ' +
      '(`IDEMPOTENCY_KEY_IN_USE`, with `retry-after`)',
    example: ['USERNAME_TAKEN', "username 'jsilva' is already taken"],
  },
  413: {
    description:
      'The body is larger than the limit (BODY_LIMIT), or a cached value larger than CACHE_MAX_VALUE_BYTES ' +
      '(`CACHE_VALUE_TOO_LARGE`)',
    example: ['FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large'],
  },
  414: {
    description:
      'A path parameter is longer than the router accepts; Fastify answers before any route runs, ' +
      'with `error: "Bad Request"`',
    example: ['FST_ERR_MAX_PARAM_LENGTH', "'/cache/aaaa…' is exceeding the max param length", 'Bad Request'],
  },
  415: {
    description: 'The body is in a media type the server does not read: send `content-type: application/json`',
    example: ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type'],
  },
  422: {
    description:
      'The request refers to something that does not exist (`REFERENCE_NOT_FOUND`), or its `Idempotency-Key` ' +
      'was used before for a different request (another body, path or method: `IDEMPOTENCY_KEY_REUSED`), and ' +
      'a new request needs a new key',
    example: [
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used for a different request: send a new key with a new request',
    ],
  },
  429: {
    description:
      'Too many requests from this client (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS): retry after `retry-after` seconds',
    example: ['RATE_LIMITED', 'Rate limit exceeded, retry in 1 minute'],
  },
  500: {
    description: 'Unexpected server error (details are logged, never returned)',
    example: [undefined, 'Internal Server Error'],
  },
  503: {
    description:
      'A backing service (Postgres or Redis) is unavailable (a write with an `Idempotency-Key` needs Redis: ' +
      '`IDEMPOTENCY_UNAVAILABLE`), or this instance is overloaded (`OVERLOADED`, with `retry-after`)',
    example: ['CACHE_UNAVAILABLE', 'Cache unavailable, try again later'],
  },
  507: {
    description:
      'Redis is at its memory bound and cannot make room for the value now (it evicts the least used keys ' +
      'first, so this is rare): try again later, or store less',
    example: ['CACHE_FULL', 'The cache is full and cannot store this value now, try again later'],
  },
}

const RETRY_AFTER = {
  'retry-after': { type: 'integer', description: 'Seconds until the client may send requests again' },
}

// Headers some error statuses carry.
const ERROR_HEADERS: Partial<Record<ErrorStatus, Record<string, { type: string; description: string }>>> = {
  401: { 'www-authenticate': { type: 'string', description: 'Always `Bearer`: the authentication scheme to use' } },
  409: {
    'retry-after': {
      type: 'integer',
      description: 'Only when a request with the same `Idempotency-Key` is in progress: seconds before a retry',
    },
  },
  429: RETRY_AFTER,
  503: {
    'retry-after': {
      type: 'integer',
      description: 'Only when the instance is overloaded: seconds until the client may retry',
    },
  },
}

/**
 * Response schemas for the error statuses a route can answer with, in the
 * per-media-type form so each status documents its own example body.
 */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => {
      const { description, example } = ERRORS[status]
      const [code, message, error] = example
      const body = errorBody(status, code, message, error)
      const response = {
        description,
        ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
        content: { 'application/json': { schema: ErrorRef, example: body } },
      }
      return [status, response]
    }),
  ) as unknown as { [K in S]: typeof ErrorRef }
}
