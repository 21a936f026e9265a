// The compose files, .env.example, the HAProxy configuration, the Dockerfile
// and the docs agree with each other and with the app. The files are read as
// Docker Compose v2 resolves them (`docker compose config`). (`npm run
// test:compose` and `npm run test:compose:scale` run the stacks themselves.)
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { ConfigSchema } from '../../lib/config.ts'

const exec = promisify(execFile)
const PROJECT_DIR = new URL('../..', import.meta.url).pathname
const read = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8')

const FILES = ['compose.yaml', 'compose.scale.yaml', 'compose.dev.yaml'] as const
type File = (typeof FILES)[number]
const text = Object.fromEntries(FILES.map((name) => [name, read(name)])) as Record<File, string>

interface Port {
  host_ip?: string
  target: number
  published: string
}
interface Service {
  container_name?: string
  environment?: Record<string, string | null>
  ports?: Port[]
  secrets?: { source: string }[]
  [key: string]: unknown
}
interface Model {
  name: string
  services: Record<string, Service>
  networks: Record<string, { name: string }>
  volumes: Record<string, { name: string }>
  secrets: Record<string, { file: string }>
}

/**
 * A file as Docker Compose v2 resolves it (`docker compose config`), with only
 * the variables given: none from this shell or a `.env`.
 */
async function resolve(file: File, variables: Record<string, string> = {}): Promise<Model> {
  const inherited = Object.fromEntries(
    ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG'].flatMap((name) => {
      const value = process.env[name]
      return value === undefined ? [] : [[name, value]]
    }),
  )
  const args = ['compose', '--env-file', '/dev/null', '-f', file, 'config', '--format', 'json']
  const { stdout } = await exec('docker', args, { cwd: PROJECT_DIR, env: { ...inherited, ...variables } })
  return JSON.parse(stdout) as Model
}

const models = Object.fromEntries(await Promise.all(FILES.map(async (file) => [file, await resolve(file)]))) as Record<
  File,
  Model
>
const stack = models['compose.yaml']

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}`, `${NAME:+value}` in every compose file: name -> its defaults. */
const composeVariables = new Map<string, Set<string | undefined>>()
for (const file of FILES) {
  for (const [, name, kind, value] of text[file].matchAll(/\$\{(\w+)(?::([-?+])([^}]*))?\}/g)) {
    const defaults = composeVariables.get(name) ?? new Set()
    // `:+`: a value only when the variable is set, empty otherwise.
    if (kind !== '+') defaults.add(kind === '-' ? value : undefined)
    composeVariables.set(name, defaults)
  }
}

/** NAME=value lines of .env.example, each with the comment lines above it. */
const envExample = read('.env.example')
const exampleEntries = new Map<string, { value: string; comment: string }>()
let comment = ''
for (const line of envExample.split('\n')) {
  const assignment = line.match(/^(\w+)=(.*)$/)
  if (line.startsWith('#')) comment += `${line}\n`
  else if (assignment) {
    exampleEntries.set(assignment[1], { value: assignment[2], comment })
    comment = ''
  } else comment = ''
}

const schemaVariables = Object.keys(ConfigSchema.properties)
/** Set by the compose files to the stack's addresses, not from the environment (a shell's HOST or PORT must not move them). */
const WIRING: Record<string, string | number> = {
  PORT: 5000,
  HOST: '0.0.0.0',
  POSTGRES_HOST: 'db',
  POSTGRES_PORT: 5432,
  REDIS_HOST: 'cache',
  REDIS_PORT: 6379,
}

t.test('each file is a project of its own: compose.yaml the stack, the two others built on it', async (t) => {
  t.same(
    FILES.map((file) => models[file].name),
    ['desafio3', 'desafio3-scale', 'desafio3-dev'],
    'project names',
  )
  t.same(Object.keys(stack.services).sort(), ['cache', 'db', 'web'])
  t.same(Object.keys(models['compose.scale.yaml'].services).sort(), ['cache', 'db', 'lb', 'web'])
  t.same(Object.keys(models['compose.dev.yaml'].services).sort(), ['cache', 'db', 'web'])
  for (const file of ['compose.scale.yaml', 'compose.dev.yaml'] as const) {
    const own = parse(text[file]) as { services: Record<string, { extends?: unknown }> }
    for (const name of Object.keys(stack.services)) {
      t.same(
        own.services[name].extends,
        { file: 'compose.yaml', service: name },
        `${file} ${name} extends compose.yaml`,
      )
    }
  }
})

t.test("compose.yaml keeps the original's names; the other stacks' belong to their projects", async (t) => {
  const names = Object.fromEntries(Object.entries(stack.services).map(([name, s]) => [name, s.container_name]))
  t.same(names, { db: 'desafio3-postgres', cache: 'desafio3-redis', web: 'desafio3-web' })
  t.same(stack.networks.default.name, 'desafio3-network')
  t.same(Object.fromEntries(Object.entries(stack.volumes).map(([name, volume]) => [name, volume.name])), {
    postgres_data: 'desafio3-postgres-data',
    redis_data: 'desafio3-redis-data',
  })
  for (const file of ['compose.scale.yaml', 'compose.dev.yaml'] as const) {
    const model = models[file]
    for (const [name, service] of Object.entries(model.services)) t.notOk(service.container_name, `${file} ${name}`)
    t.equal(model.networks.default.name, `${model.name}_default`, `${file}: the project's network`)
    for (const [name, volume] of Object.entries(model.volumes)) {
      t.equal(volume.name, `${model.name}_${name}`, `${file}: volume ${name} is the project's`)
    }
  }
})

t.test("the scaled and development stacks run compose.yaml's services, changed only where they say", async (t) => {
  /** What each file may change in each service of compose.yaml (a dotted path is one key of a mapping). */
  const changes: Record<'compose.scale.yaml' | 'compose.dev.yaml', Record<string, string[]>> = {
    'compose.scale.yaml': {
      db: ['container_name'],
      cache: ['container_name'],
      web: ['container_name', 'ports', 'environment.TRUST_PROXY'],
    },
    'compose.dev.yaml': {
      db: ['container_name', 'ports'],
      cache: ['container_name', 'ports'],
      web: ['container_name', 'build.target', 'image', 'read_only', 'tty', 'develop'],
    },
  }
  const without = (service: Service, paths: string[]) => {
    const copy = structuredClone(service) as Record<string, Record<string, unknown>>
    for (const path of paths) {
      const [key, inner] = path.split('.')
      if (inner) delete copy[key]?.[inner]
      else delete copy[key]
    }
    return copy
  }
  for (const [file, services] of Object.entries(changes) as [keyof typeof changes, Record<string, string[]>][]) {
    for (const [name, paths] of Object.entries(services)) {
      t.same(
        without(models[file].services[name], paths),
        without(stack.services[name], paths),
        `${file} ${name}: the same as compose.yaml's but for ${paths.join(', ')}`,
      )
    }
  }
  const web = models['compose.dev.yaml'].services.web
  t.equal((web.build as { target?: string }).target, 'dev', "development: the Dockerfile's dev stage")
  t.notOk(web.image, 'development: its own image name, never WEB_IMAGE (compose.yaml runs that one)')
})

t.test("every container's memory is bounded; Redis' data within its container's", async (t) => {
  for (const file of FILES) {
    for (const [name, service] of Object.entries(models[file].services)) {
      t.ok(Number(service.mem_limit) > 0, `${file} ${name}: mem_limit ${service.mem_limit}`)
    }
  }
  const cache = stack.services.cache
  const maxmemory = /^(\d+)mb$/.exec(String(cache.environment?.REDIS_MAXMEMORY))?.[1]
  t.ok(maxmemory, `cache: REDIS_MAXMEMORY ${cache.environment?.REDIS_MAXMEMORY}`)
  t.ok(
    Number(cache.mem_limit) >= 2 * Number(maxmemory) * 1024 * 1024,
    'its container holds twice the data (an append-only file rewrite copies what is written meanwhile)',
  )
  t.match(read('deploy/compose/redis.sh'), /--maxmemory "\$\{REDIS_MAXMEMORY:-256mb\}" --maxmemory-policy allkeys-lfu/)
})

t.test('everything is published on this machine only, unless WEB_PUBLISH_ADDRESS says otherwise', async (t) => {
  const published = (model: Model) =>
    Object.entries(model.services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => `${name} ${port.host_ip}:${port.published}->${port.target}`),
    )
  const expected: Record<File, string[]> = {
    'compose.yaml': ['web 127.0.0.1:5000->5000'],
    'compose.scale.yaml': ['lb 127.0.0.1:5000->5000', 'lb 127.0.0.1:5443->5443'],
    'compose.dev.yaml': ['db 127.0.0.1:5432->5432', 'cache 127.0.0.1:6379->6379', 'web 127.0.0.1:5000->5000'],
  }
  const everywhere = { WEB_PUBLISH_ADDRESS: '0.0.0.0', WEB_PORT: '8080', WEB_HTTPS_PORT: '8443' }
  const movedApi: Record<File, string[]> = {
    'compose.yaml': ['web 0.0.0.0:8080->5000'],
    'compose.scale.yaml': ['lb 0.0.0.0:8080->5000', 'lb 0.0.0.0:8443->5443'],
    // Postgres and Redis of the development stack stay on loopback whatever is set.
    'compose.dev.yaml': ['db 127.0.0.1:5432->5432', 'cache 127.0.0.1:6379->6379', 'web 0.0.0.0:8080->5000'],
  }
  for (const file of FILES) {
    t.same(published(models[file]).sort(), expected[file].sort(), `${file}: by default`)
    t.same(
      published(await resolve(file, everywhere)).sort(),
      movedApi[file].sort(),
      `${file}: ${JSON.stringify(everywhere)}`,
    )
  }
})

t.test("web's environment: every setting of the app, from the environment, no other", async (t) => {
  const raw = (parse(text['compose.yaml']) as { services: { web: { environment: Record<string, unknown> } } }).services
    .web.environment
  t.same(Object.keys(raw).sort(), [...schemaVariables].sort(), 'compose.yaml: web gets each variable of lib/config.ts')
  for (const name of schemaVariables) {
    const value = String(raw[name])
    if (name in WIRING) t.equal(value, String(WIRING[name]), `${name} is the stack's wiring`)
    else t.match(value, new RegExp(`^\\$\\{${name}:-[^}]*\\}$`), `${name} comes from the environment or .env`)
  }
  for (const file of FILES) {
    t.same(Object.keys(models[file].services.web.environment ?? {}).sort(), [...schemaVariables].sort(), file)
  }
  t.equal(
    models['compose.scale.yaml'].services.web.environment?.TRUST_PROXY,
    '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16',
    'the scaled stack trusts X-Forwarded-For from its network (lb)',
  )
})

t.test('.env.example lists every variable the compose files read, with a comment, and no other', async (t) => {
  t.same([...exampleEntries.keys()].sort(), [...composeVariables.keys()].sort())
  for (const [name, { comment }] of exampleEntries) t.ok(comment, `${name} has a comment`)
  // The wiring is not set there, but named, so every variable of the app is in the file.
  for (const name of schemaVariables) t.match(envExample, new RegExp(`\\b${name}\\b`), `${name} is in .env.example`)
})

t.test(".env.example's values are the compose files' defaults; its comments give the app's", async (t) => {
  for (const [name, defaults] of composeVariables) {
    t.notOk(defaults.has(undefined), `${name} has a default: nothing is required at Compose level`)
    const value = exampleEntries.get(name)?.value
    // The quick start's one setting to change.
    if (name === 'POSTGRES_PASSWORD') t.equal(value, 'change-me', 'a placeholder to change')
    // Empty: each file's default (the only way when the files differ).
    else if (defaults.size !== 1 || value === '') t.equal(value, '', `${name}: empty, each file's default applies`)
    else t.equal(value, [...defaults][0], name)
  }
  for (const name of schemaVariables) {
    const { default: appDefault } = ConfigSchema.properties[name as keyof typeof ConfigSchema.properties] as {
      default?: unknown
    }
    const entry = exampleEntries.get(name)
    if (entry?.value !== '' || appDefault === undefined || appDefault === '') continue
    t.match(entry.comment, `(default ${appDefault})`, `${name}'s comment gives the app's default`)
  }
})

t.test('every compose variable is documented (README.md or docs/)', async (t) => {
  const docs = [
    read('README.md'),
    ...readdirSync(new URL('../../docs', import.meta.url))
      .filter((name) => name.endsWith('.md'))
      .map((name) => read(`docs/${name}`)),
  ].join('\n')
  for (const name of composeVariables.keys()) t.match(docs, `\`${name}\``, name)
})

t.test('secrets: each service mounts the ones it reads; no password on a command line', async (t) => {
  const mounted = (model: Model, service: string) =>
    (model.services[service].secrets ?? []).map((secret) => secret.source).sort()
  for (const file of FILES) {
    const model = models[file]
    t.same(mounted(model, 'db'), ['postgres_password'], `${file} db`)
    t.same(mounted(model, 'cache'), ['redis_password'], `${file} cache`)
    t.same(mounted(model, 'web'), ['api_keys', 'postgres_password', 'redis_password'], `${file} web`)
    for (const [name, service] of Object.entries(model.services)) {
      const command = JSON.stringify([service.command ?? '', service.entrypoint ?? '', service.healthcheck ?? ''])
      t.notMatch(command, /PASSWORD|API_KEYS/, `${file} ${name}: no secret variable in a command or health check`)
    }
  }
  t.same(mounted(models['compose.scale.yaml'], 'lb'), ['tls_certificate'], "lb: its certificate, nobody else's secret")
  const declared = (file: File) => (parse(text[file]) as { secrets: Record<string, { file: string }> }).secrets
  for (const [name, { file }] of Object.entries(declared('compose.yaml'))) {
    t.equal(file, `\${SECRETS_DIR:-./deploy/compose/no-secrets}/${name}`, `${name} comes from SECRETS_DIR`)
  }
  t.same(declared('compose.dev.yaml'), declared('compose.yaml'), 'the development stack declares the same secrets')
  t.same(
    declared('compose.scale.yaml'),
    {
      ...declared('compose.yaml'),
      tls_certificate: { file: `\${TLS_CERT_FILE:-./deploy/compose/no-secrets/tls_certificate}` },
    },
    'the scaled stack: the same, and the certificate',
  )
  for (const name of readdirSync(new URL('../../deploy/compose/no-secrets', import.meta.url))) {
    t.equal(statSync(new URL(`../../deploy/compose/no-secrets/${name}`, import.meta.url)).size, 0, `${name}: empty`)
  }
  for (const name of ['POSTGRES_PASSWORD', 'POSTGRES_PASSWORD_FILE']) {
    t.ok(name in (stack.services.db.environment ?? {}), `db: ${name}`)
  }
  for (const name of ['REDIS_PASSWORD', 'REDIS_PASSWORD_FILE']) {
    t.ok(name in (stack.services.cache.environment ?? {}), `cache: ${name}`)
  }
})

t.test('lb serves HTTPS with the certificate TLS_CERT_FILE names, given as a secret; HTTP alone without', async (t) => {
  const lb = models['compose.scale.yaml'].services.lb
  t.equal(lb.environment?.TLS_CERTIFICATE, '', 'no certificate: HTTP only')
  t.equal(lb.environment?.WEB_HTTPS_PORT, '5443')
  const withCertificate = await resolve('compose.scale.yaml', {
    TLS_CERT_FILE: '/etc/example/tls.pem',
    WEB_HTTPS_PORT: '443',
  })
  t.equal(withCertificate.services.lb.environment?.TLS_CERTIFICATE, '/run/secrets/tls_certificate')
  t.equal(withCertificate.services.lb.environment?.WEB_HTTPS_PORT, '443', 'redirects to the published HTTPS port')
  t.equal(withCertificate.secrets.tls_certificate.file, '/etc/example/tls.pem')
})

/** Runs a program; undefined when it is not installed. */
async function tryRun(file: string, args: string[]) {
  try {
    return await exec(file, args, { cwd: PROJECT_DIR, timeout: 60_000 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

t.test(
  'deploy/haproxy/haproxy.cfg passes `haproxy -c` in the load balancer image, with and without a certificate',
  async (t) => {
    const image = process.env.HAPROXY_IMAGE ?? 'haproxy:3'
    const certificates = mkdtempSync(join(tmpdir(), 'desafio3-tls-'))
    t.teardown(() => rmSync(certificates, { recursive: true, force: true }))
    await exec('sh', ['scripts/self-signed-cert.sh', certificates], { cwd: PROJECT_DIR })
    const check = (environment: string[]) =>
      tryRun('docker', [
        'run',
        '--rm',
        '-v',
        `${PROJECT_DIR}deploy/haproxy:/usr/local/etc/haproxy:ro`,
        '-v',
        `${certificates}/localhost.pem:/run/secrets/tls_certificate:ro`,
        ...environment.flatMap((variable) => ['-e', variable]),
        image,
        '-c',
        '-f',
        '/usr/local/etc/haproxy/haproxy.cfg',
      ])
    const withoutCertificate = await check(['TLS_CERTIFICATE=', 'WEB_HTTPS_PORT=5443'])
    if (!withoutCertificate) {
      t.comment('no docker here: not checked')
      return
    }
    const withCertificate = await check(['TLS_CERTIFICATE=/run/secrets/tls_certificate', 'WEB_HTTPS_PORT=5443'])
    for (const [name, result] of Object.entries({ withoutCertificate, withCertificate })) {
      t.match(result?.stdout ?? '', /Configuration file is valid/, name)
      t.notMatch((result?.stdout ?? '') + (result?.stderr ?? ''), /WARNING|ALERT/, `${name}: no warning`)
    }
    const config = read('deploy/haproxy/haproxy.cfg')
    t.match(config, /server-template web \d+ web:5000 .*resolvers docker/, 'finds the replicas through Docker DNS')
    t.match(config, /nameserver dns 127\.0\.0\.11:53/)
    // Each section's directives (a section starts at an unindented line; `.if`
    // and `.endif` are conditions inside one).
    const sections = new Map<string, string[]>()
    let section = ''
    for (const line of config.split('\n')) {
      if (/^[^\s.#]/.test(line)) {
        section = line.trim()
        sections.set(section, [])
      } else if (line.trim() && !line.trim().startsWith('#')) sections.get(section)?.push(line.trim())
    }
    const retryOn = (name: string) =>
      (
        sections.get(name)?.find((line) => line.startsWith('retry-on ')) ??
        sections.get('defaults')?.find((line) => line.startsWith('retry-on '))
      )
        ?.split(/\s+/)
        .slice(1)
    t.same(
      retryOn('backend web'),
      ['conn-failure', 'empty-response', 'response-timeout', '503'],
      'web retries a shed GET',
    )
    t.notOk(retryOn('backend web-live')?.includes('503'), "web-live does not retry the app's own 503s")
    for (const name of ['backend web', 'backend web-live']) {
      t.ok(
        sections.get(name)?.includes('http-request disable-l7-retry unless METH_GET'),
        `${name}: only GET and HEAD are resent`,
      )
    }
    const slots = Number(/server-template web (\d+) /.exec(config)?.[1])
    const frontend = sections.get('frontend http') ?? []
    t.same(
      frontend.filter((line) => line.startsWith('acl web_ready ')),
      Array.from({ length: slots }, (_, i) => `acl web_ready srv_is_up(web/web${i + 1})`),
      `web_ready looks at every one of the ${slots} replica slots`,
    )
    t.ok(
      frontend.some((line) => /^\.if strneq\("\$TLS_CERTIFICATE",""\)$/.test(line)) &&
        frontend.some((line) => /^bind :5443 ssl crt "\$TLS_CERTIFICATE" alpn h2,http\/1\.1$/.test(line)),
      'HTTPS on 5443 (HTTP/2 and HTTP/1.1) only when there is a certificate',
    )
    t.ok(
      sections.get('global')?.includes('ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets'),
      'TLS 1.2 and 1.3 only',
    )
    for (const name of ['backend web', 'backend web-live']) {
      t.ok(
        sections.get(name)?.includes('server no-replica abns@no-replica backup no-check maxconn 10000'),
        `${name}: a request left without a replica gets lb's 503, not a closed connection`,
      )
    }
    for (const code of [502, 503, 504]) {
      const page = read(`deploy/haproxy/errors/${code}.http`)
      const [head, body] = page.split('\r\n\r\n')
      t.equal(JSON.parse(body).statusCode, code, `${code}: a JSON error body`)
      t.match(head, `content-length: ${Buffer.byteLength(body)}`, `${code}: its length`)
    }
  },
)

t.test("the Dockerfile's defaults and rules", async (t) => {
  const dockerfile = read('Dockerfile')
  t.match(
    dockerfile,
    `ARG NODE_IMAGE=${[...(composeVariables.get('NODE_IMAGE') ?? [])][0]}`,
    'same base image as compose',
  )
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /^HEALTHCHECK .*\n?.*CMD \["node", "-e", /m, 'a healthcheck without curl')
  const startCommand = JSON.parse(read('package.json')).scripts.start.split(' ')
  t.match(
    dockerfile,
    `\nCMD ${JSON.stringify(startCommand).replaceAll(',', ', ')}\n`,
    'node as main process (never npm), as `npm start`',
  )
  t.notMatch(dockerfile, /\bapk\b|\bapt-get\b/, 'nothing specific to one distribution')
  const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map(([, from, name]) => ({ from, name }))
  t.equal(stages.at(-1)?.name, undefined, 'the image `docker build` makes is the last stage, the production one')
  t.same(
    stages.find((stage) => stage.name === 'dev'),
    { from: 'runtime', name: 'dev' },
    "compose.dev.yaml's stage shares the production image's base and healthcheck",
  )
  const watched = (
    (models['compose.dev.yaml'].services.web.develop as { watch: { path: string; action: string }[] }).watch ?? []
  ).map(({ path, action }) => `${action} ${path.replace(PROJECT_DIR, '')}`)
  const copied = [...dockerfile.matchAll(/^COPY (src|plugins|routes|lib|sql) /gm)].map(([, dir]) => dir)
  for (const dir of new Set(copied)) t.ok(watched.includes(`sync+restart ${dir}`), `a change in ${dir}/ restarts web`)
  for (const file of ['package.json', 'package-lock.json']) {
    t.ok(watched.includes(`rebuild ${file}`), `a change of ${file} rebuilds web's image`)
  }
})
