import { Type } from '@sinclair/typebox'

/** Every error body, as Fastify formats it: `{ statusCode, error, message }`. */
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

const ErrorRef = Type.Ref(ErrorResponse)

const ERROR_DESCRIPTIONS = {
  400: 'The request is invalid: the message says which part and why',
  404: 'Not found',
  409: 'Conflicts with existing data',
  413: 'The body is larger than the limit (BODY_LIMIT)',
  429: 'Too many requests from this client (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS): retry after `retry-after` seconds',
  500: 'Unexpected server error (details are logged, never returned)',
  503: 'A backing service (Postgres or Redis) is unavailable',
} as const

type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS

/** Response schemas for the error statuses a route can answer with. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, Type.Ref(ErrorResponse, { description: ERROR_DESCRIPTIONS[status] })]),
  ) as { [K in S]: typeof ErrorRef }
}
