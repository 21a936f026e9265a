// The app's settings for servers given by URL, as testcontainers (and a
// DATABASE_URL or REDIS_URL given to `npm test` or the bench) name them.

/** The settings that put the app on the Postgres of `url` (postgres://user:password@host:port/db). */
export function postgresSettings(url: string): Record<string, string> {
  const { hostname, port, pathname, username, password } = new URL(url)
  return {
    POSTGRES_HOST: hostname,
    POSTGRES_PORT: port || '5432',
    POSTGRES_DB: decodeURIComponent(pathname.slice(1)),
    POSTGRES_USER: decodeURIComponent(username),
    POSTGRES_PASSWORD: decodeURIComponent(password),
  }
}

/** The settings that put the app on the Redis of `url` (redis://:password@host:port). */
export function redisSettings(url: string): Record<string, string> {
  const { hostname, port, password } = new URL(url)
  return { REDIS_HOST: hostname, REDIS_PORT: port || '6379', REDIS_PASSWORD: decodeURIComponent(password) }
}
