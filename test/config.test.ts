import { spawnSync } from 'node:child_process'
import t from 'tap'
import { type ConfigError, loadConfig } from '../lib/config.ts'
import { postgresConnection, redisClientOptions } from '../lib/connections.ts'

t.test('every variable has a default but the secrets', async (t) => {
  const config = loadConfig({})
  t.match(config, {
    PORT: 5000,
    HOST: '0.0.0.0',
    LOG_LEVEL: 'info',
    POSTGRES_HOST: 'localhost',
    POSTGRES_PORT: 5432,
    POSTGRES_DB: 'desafio3',
    POSTGRES_USER: 'postgres',
    REDIS_HOST: 'localhost',
    REDIS_PORT: 6379,
    BODY_LIMIT: 1048576,
    MIGRATE_ON_START: true,
    RATE_LIMIT_MAX: 300,
    RATE_LIMIT_WINDOW_MS: 60000,
    USERS_CACHE_TTL_SECONDS: 30,
  })
  t.equal(config.POSTGRES_PASSWORD, undefined)
  t.equal(config.REDIS_PASSWORD, undefined)
})

t.test('values are parsed from strings', async (t) => {
  const config = loadConfig({ PORT: '8080', MIGRATE_ON_START: 'false', LOG_LEVEL: 'debug' })
  t.equal(config.PORT, 8080)
  t.equal(config.MIGRATE_ON_START, false)
  t.equal(config.LOG_LEVEL, 'debug')
})

t.test('an empty value counts as unset', async (t) => {
  const config = loadConfig({ PORT: '', REDIS_PASSWORD: '' })
  t.equal(config.PORT, 5000)
  t.equal(config.REDIS_PASSWORD, undefined)
})

t.test('variables the schema does not know are ignored', async (t) => {
  t.notOk('PATH' in loadConfig({ PATH: '/bin' }))
})

t.test('a bad value is rejected with a message naming the variable and the value', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /^Invalid configuration: PORT must be integer \(got "abc"\)$/],
    [{ PORT: '70000' }, /PORT must be <= 65535/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL .*one of fatal, error, warn, info, debug, trace, silent.*got "loud"/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must match pattern/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must match pattern/],
    [{ BODY_LIMIT: '10' }, /BODY_LIMIT must be >= 1024/],
    [{ MIGRATE_ON_START: 'maybe' }, /MIGRATE_ON_START must be boolean/],
    [{ RATE_LIMIT_MAX: '-1' }, /RATE_LIMIT_MAX must be >= 0/],
    [{ RATE_LIMIT_MAX: 'lots' }, /RATE_LIMIT_MAX must be integer/],
    [{ RATE_LIMIT_WINDOW_MS: '0' }, /RATE_LIMIT_WINDOW_MS must be >= 1/],
    [{ RATE_LIMIT_WINDOW_MS: '1 minute' }, /RATE_LIMIT_WINDOW_MS must be integer/],
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('every bad variable is named at once', async (t) => {
  const err = t.throws(() => loadConfig({ PORT: 'x', REDIS_PORT: 'y' })) as ConfigError
  t.match(err.message, /PORT must be integer.*REDIS_PORT must be integer/)
})

t.test('DATABASE_URL overrides the POSTGRES_* variables', async (t) => {
  const url = 'postgres://u:p@dbhost:6543/other'
  t.match(postgresConnection(loadConfig({ DATABASE_URL: url, POSTGRES_HOST: 'ignored' })), {
    connectionString: url,
    host: undefined,
  })
  t.match(postgresConnection(loadConfig({ POSTGRES_HOST: 'db', POSTGRES_PASSWORD: 's3cret' })), {
    host: 'db',
    port: 5432,
    database: 'desafio3',
    user: 'postgres',
    password: 's3cret',
  })
})

t.test('REDIS_URL overrides the REDIS_* variables', async (t) => {
  const fromUrl = redisClientOptions(loadConfig({ REDIS_URL: 'redis://cache:6380', REDIS_HOST: 'ignored' }))
  t.equal(fromUrl.url, 'redis://cache:6380')
  t.notOk('host' in fromUrl.options, 'no host beside the URL')
  const fromParts = redisClientOptions(loadConfig({ REDIS_HOST: 'cache', REDIS_PASSWORD: 'pw' }))
  t.equal(fromParts.url, undefined)
  t.match(fromParts.options, { host: 'cache', port: 6379, password: 'pw', keyPrefix: 'desafio3:' })
})

t.test('the server process stops at start with one line naming the bad variable', async (t) => {
  const result = spawnSync(process.execPath, ['src/server.ts'], {
    env: { PATH: process.env.PATH, PORT: 'not-a-port' },
    encoding: 'utf8',
    timeout: 10_000,
  })
  t.equal(result.status, 1)
  t.equal(result.stdout, '')
  t.equal(result.stderr, 'Invalid configuration: PORT must be integer (got "not-a-port")\n')
})
