import createError from '@fastify/error'

export const DatabaseUnavailableError = createError('DB_UNAVAILABLE', 'Database unavailable, try again later', 503)
export const CacheUnavailableError = createError('CACHE_UNAVAILABLE', 'Cache unavailable, try again later', 503)
export const CacheKeyNotFoundError = createError('CACHE_KEY_NOT_FOUND', "Key '%s' not found", 404)
export const MigrationsPendingError = createError('MIGRATIONS_PENDING', 'Schema migrations not applied yet', 503)
export const RateLimitedError = createError('RATE_LIMITED', 'Rate limit exceeded, retry in %s', 429)
