import { type Static, Type } from '@sinclair/typebox'

export const MAX_KEY_LENGTH = 512
export const DEFAULT_TTL_SECONDS = 3600
export const MAX_TTL_SECONDS = 30 * 24 * 3600

const Key = Type.String({
  minLength: 1,
  maxLength: MAX_KEY_LENGTH,
  // No control characters (C0, DEL, C1): they break logs and terminals.
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
  description: `1 to ${MAX_KEY_LENGTH} characters, no control characters`,
  examples: ['user:1'],
})

const Ttl = Type.Integer({
  minimum: 1,
  maximum: MAX_TTL_SECONDS,
  description: `Seconds until the key expires, 1 to ${MAX_TTL_SECONDS} (30 days)`,
  examples: [300],
})

const Value = Type.Unknown({ description: 'Any JSON value', examples: [{ name: 'João' }] })

export const CacheKey = Type.Object({ key: Key })

export const CacheWrite = Type.Object(
  { key: Key, value: Value, ttl: Type.Optional({ ...Ttl, default: DEFAULT_TTL_SECONDS }) },
  { $id: 'CacheWrite', title: 'CacheWrite', examples: [{ key: 'user:1', value: { name: 'João' }, ttl: 300 }] },
)

export const CacheWritten = Type.Object(
  {
    message: Type.String({ examples: ['Data cached successfully'] }),
    key: Key,
    ttl: Ttl,
  },
  { $id: 'CacheWritten', title: 'CacheWritten' },
)

export const CacheEntry = Type.Object(
  { key: Key, value: Value, ttl: Type.Integer({ minimum: 0, description: 'Seconds left before it expires' }) },
  { $id: 'CacheEntry', title: 'CacheEntry' },
)
export type CacheEntry = Static<typeof CacheEntry>
