import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { apiKeys, type ConfigError, ConfigSchema, loadConfig, TUNING, trustProxy } from '../lib/config.ts'
import { postgresConnection, redisClientOptions } from '../lib/connections.ts'

t.test('at most 20 settings, each with a default but the secrets; the rest are constants', async (t) => {
  const settings = Object.keys(ConfigSchema.properties)
  t.ok(settings.length <= 20, `${settings.length} environment variables`)
  t.same(
    settings.filter((name) => name in TUNING),
    [],
    'a name is a setting or a constant, never both',
  )
  const config = loadConfig({})
  t.match(config, {
    PORT: 5000,
    HOST: '0.0.0.0',
    LOG_LEVEL: 'info',
    POSTGRES_HOST: 'localhost',
    POSTGRES_PORT: 5432,
    POSTGRES_DB: 'desafio3',
    POSTGRES_USER: 'postgres',
    DB_POOL_MAX: 10,
    REDIS_HOST: 'localhost',
    REDIS_PORT: 6379,
    RATE_LIMIT_MAX: 300,
    API_KEYS: '',
    POSTGRES_PASSWORD_FILE: '',
    REDIS_PASSWORD_FILE: '',
    API_KEYS_FILE: '',
    METRICS_PORT: 0,
    TRUST_PROXY: 'false',
    ...TUNING,
  })
  t.equal(config.POSTGRES_PASSWORD, undefined)
  t.equal(config.REDIS_PASSWORD, undefined)
  t.same(apiKeys(config), [], 'no API keys: writes are open')
  t.equal(trustProxy(config), false, 'no proxy trusted')
})

t.test('the settings added for security and proxies each have a description', async (t) => {
  const added = [
    'POSTGRES_PASSWORD_FILE',
    'REDIS_PASSWORD_FILE',
    'API_KEYS',
    'API_KEYS_FILE',
    'METRICS_PORT',
    'TRUST_PROXY',
  ]
  const properties = ConfigSchema.properties as Record<string, { default?: unknown; description?: string }>
  for (const name of added) {
    t.ok(name in properties, `${name} is in the schema`)
    t.not(properties[name]?.default, undefined, `${name} has a default`)
    t.ok((properties[name]?.description?.length ?? 0) > 30, `${name} has a description`)
  }
})

t.test('a variable of an earlier version that is gone stops the start, saying what to set instead', async (t) => {
  t.throws(() => loadConfig({ DATABASE_URL: 'postgres://u:s3cret@h/db' }), {
    name: 'ConfigError',
    message: /DATABASE_URL is no longer read: set POSTGRES_HOST, POSTGRES_PORT/,
  })
  const err = t.throws(() =>
    loadConfig({ REDIS_URL: 'redis://:s3cret@h', DB_STATEMENT_TIMEOUT_MS: '5' }),
  ) as ConfigError
  t.match(
    err.message,
    /REDIS_URL is no longer read: set REDIS_HOST.*DB_STATEMENT_TIMEOUT_MS is no longer read: it is a constant/,
  )
  t.notMatch(err.message, /s3cret/, 'the value is never echoed')
})

t.test('a test passes its own constants', async (t) => {
  const config = loadConfig({}, { DB_STATEMENT_TIMEOUT_MS: 5000, REDIS_KEY_PREFIX: 'test:' })
  t.equal(config.DB_STATEMENT_TIMEOUT_MS, 5000)
  t.equal(config.REDIS_KEY_PREFIX, 'test:')
  t.equal(config.DB_CONNECT_TIMEOUT_MS, TUNING.DB_CONNECT_TIMEOUT_MS)
})

t.test('values are parsed from strings', async (t) => {
  const config = loadConfig({ PORT: '8080', DB_POOL_MAX: '7', LOG_LEVEL: 'debug' })
  t.equal(config.PORT, 8080)
  t.equal(config.DB_POOL_MAX, 7)
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
    [{ DB_POOL_MAX: '0' }, /DB_POOL_MAX must be >= 1/],
    [{ RATE_LIMIT_MAX: '-1' }, /RATE_LIMIT_MAX must be >= 0/],
    [{ RATE_LIMIT_MAX: 'lots' }, /RATE_LIMIT_MAX must be integer/],
    [{ CORS_ORIGINS: 'example.com' }, /CORS_ORIGINS must match pattern/],
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('every bad variable is named at once', async (t) => {
  const err = t.throws(() => loadConfig({ PORT: 'x', REDIS_PORT: 'y' })) as ConfigError
  t.match(err.message, /PORT must be integer.*REDIS_PORT must be integer/)
})

t.test('Postgres and Redis are where the POSTGRES_* and REDIS_* settings say', async (t) => {
  t.match(postgresConnection(loadConfig({ POSTGRES_HOST: 'db', POSTGRES_PASSWORD: 's3cret' })), {
    host: 'db',
    port: 5432,
    database: 'desafio3',
    user: 'postgres',
    password: 's3cret',
  })
  t.match(redisClientOptions(loadConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: 'pw' })), {
    host: 'cache',
    port: 6380,
    password: 'pw',
    keyPrefix: 'desafio3:',
  })
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

/** A folder for secret files, removed when the test ends. */
async function secretsDir(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'desafio3-secrets-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return async (name: string, content: string) => {
    const path = join(dir, name)
    await writeFile(path, content)
    return path
  }
}

t.test('X_FILE: the value is the content of the file, without its trailing line breaks', async (t) => {
  const file = await secretsDir(t)
  const config = loadConfig({
    POSTGRES_PASSWORD_FILE: await file('db', 'db pass with spaces \n'),
    REDIS_PASSWORD_FILE: await file('redis', 'redis-pw\r\n\n'),
    API_KEYS_FILE: await file(
      'keys',
      'first-key-0123456789abcdef\nsecond-key-0123456789abcdef,third-key-0123456789abcd\n',
    ),
  })
  t.equal(config.POSTGRES_PASSWORD, 'db pass with spaces ', 'only the line break goes: spaces are kept')
  t.equal(config.REDIS_PASSWORD, 'redis-pw')
  t.same(apiKeys(config), ['first-key-0123456789abcdef', 'second-key-0123456789abcdef', 'third-key-0123456789abcd'])
  t.match(postgresConnection(config), { password: 'db pass with spaces ' }, 'the pool gets it')
  t.match(redisClientOptions(config), { password: 'redis-pw' }, 'the Redis client gets it')
})

t.test(
  'X_FILE that cannot be used stops the start with a message naming the variable, never the content',
  async (t) => {
    const file = await secretsDir(t)
    const dir = join(await file('x', 'x'), '..')
    const cases: [Record<string, string>, RegExp][] = [
      [
        { POSTGRES_PASSWORD_FILE: join(dir, 'absent') },
        /POSTGRES_PASSWORD_FILE names ".*absent", which cannot be read \(no such file\)/,
      ],
      [{ REDIS_PASSWORD_FILE: dir }, /REDIS_PASSWORD_FILE names ".*", which cannot be read \(is a directory\)/],
      [{ API_KEYS_FILE: await file('empty', '\n\n') }, /API_KEYS_FILE names ".*empty", which is empty/],
      [
        { POSTGRES_PASSWORD: 'inline', POSTGRES_PASSWORD_FILE: await file('db', 'from-file') },
        /POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are both set: set one/,
      ],
      [
        { API_KEYS: 'inline-key-0123456789abcdef', API_KEYS_FILE: await file('keys', 'file-key-0123456789abcdef') },
        /API_KEYS and API_KEYS_FILE are both set/,
      ],
    ]
    for (const [env, message] of cases) {
      const err = t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env)) as ConfigError
      t.notMatch(err.message, /from-file|inline|file-key/, 'no secret in the message')
    }
    t.equal(
      loadConfig({ POSTGRES_PASSWORD: '', POSTGRES_PASSWORD_FILE: await file('ok', 'pw') }).POSTGRES_PASSWORD,
      'pw',
      'an empty X is unset',
    )
  },
)

t.test(
  'API_KEYS: keys of 16 or more token characters, separated by commas or line breaks; a bad one is named by position only',
  async (t) => {
    t.same(apiKeys(loadConfig({ API_KEYS: ' a-key-0123456789abcdef , b.key_0123456789~+/== ,,' })), [
      'a-key-0123456789abcdef',
      'b.key_0123456789~+/==',
    ])
    for (const bad of ['short', 'has space inside-0123456789', 'quote"0123456789abcdef', 'ünïcode-0123456789abcdef']) {
      const err = t.throws(() => loadConfig({ API_KEYS: `good-key-0123456789abcdef,${bad}` }), {
        name: 'ConfigError',
        message: /API_KEYS: keys? [\d, ]+ of \d+ (is|are) not valid \(each 16 or more of/,
      }) as ConfigError
      t.notMatch(err.message, /good-key|short|inside|quote|cod/, `the key is not echoed (${bad})`)
    }
  },
)

t.test('TRUST_PROXY: false, true, a hop count, or addresses and CIDR ranges', async (t) => {
  t.equal(trustProxy(loadConfig({ TRUST_PROXY: 'false' })), false)
  t.equal(trustProxy(loadConfig({ TRUST_PROXY: '0' })), false)
  t.equal(trustProxy(loadConfig({ TRUST_PROXY: 'true' })), true)
  const twoHops = trustProxy(loadConfig({ TRUST_PROXY: '2' })) as (address: string, hop: number) => boolean
  t.same(
    [0, 1, 2].map((hop) => twoHops('203.0.113.9', hop)),
    [true, true, false],
    'a count trusts the nearest hops',
  )
  t.same(trustProxy(loadConfig({ TRUST_PROXY: '10.0.0.1, 172.16.0.0/12,fd00::/8,loopback' })), [
    '10.0.0.1',
    '172.16.0.0/12',
    'fd00::/8',
    'loopback',
  ])
  for (const bad of ['yes', '10.0.0.300', '10.0.0.0/33', 'fd00::/129', '10.0.0.1/8/8', 'proxy.example']) {
    t.throws(
      () => loadConfig({ TRUST_PROXY: bad }),
      { name: 'ConfigError', message: /^Invalid configuration: TRUST_PROXY must be/ },
      bad,
    )
  }
})

t.test('METRICS_PORT must differ from PORT', async (t) => {
  t.equal(loadConfig({ METRICS_PORT: '9100' }).METRICS_PORT, 9100)
  t.throws(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' }), { message: /METRICS_PORT must differ from PORT/ })
})
