import { Type } from '@sinclair/typebox'

/** The request header that makes a write safe to retry (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** The response header of an answer replayed from a key's stored answer. */
export const REPLAYED_HEADER = 'idempotent-replayed'

const MIN_KEY_LENGTH = 16
const MAX_KEY_LENGTH = 255
const KEY = `[A-Za-z0-9._~+/=:-]{${MIN_KEY_LENGTH},${MAX_KEY_LENGTH}}`

// The draft makes the field a Structured Fields String (RFC 8941), a quoted
// "…"; the same characters without the quotes are accepted as the same key,
// since many clients send the key bare.
const KEY_FIELD = new RegExp(`^(?:"(${KEY})"|(${KEY}))$`)

/** The key a valid Idempotency-Key field carries (without its quotes). */
export function idempotencyKeyOf(field: string): string {
  const match = KEY_FIELD.exec(field)
  if (!match) throw new Error('not a valid Idempotency-Key field: validate it with IdempotencyKeyHeaders first')
  return match[1] ?? match[2]
}

/**
 * The request headers of a write that takes an Idempotency-Key. Lower case:
 * with the app's own validator compiler (lib/validation.ts) Fastify does not
 * lower-case header schemas, and Node's request headers are.
 */
export const IdempotencyKeyHeaders = Type.Object({
  [IDEMPOTENCY_KEY_HEADER]: Type.Optional(
    Type.String({
      pattern: KEY_FIELD.source,
      // No example: Swagger UI would fill it in, and every "Try it out" would send the same key.
      description:
        `Makes the write safe to retry: a key of its own for each write, ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} ` +
        'letters, digits and `-._~+/=:`, as a quoted string (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`: a UUID ' +
        'will do) or bare. The first complete answer is kept 24 hours: a retry with the same key and the same ' +
        'request gets it again, with `idempotent-replayed: true`, and writes nothing; the same key with another ' +
        'request is a 422, and a retry while the first still runs a 409.',
    }),
  ),
})

/** Response headers of a write that takes an Idempotency-Key. */
export const ReplayedHeaders = {
  [REPLAYED_HEADER]: {
    type: 'string',
    enum: ['true'],
    description: 'Only on an answer replayed for a retry with the same `Idempotency-Key`: nothing was written again',
  },
}
