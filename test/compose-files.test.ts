// The compose files, .env.example, the HAProxy configuration, the Dockerfile
// and the docs agree with each other and with the app. (`npm run test:compose`
// and `npm run test:compose:scale` run the stacks themselves.)
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { ConfigSchema } from '../lib/config.ts'

const exec = promisify(execFile)
const PROJECT_DIR = new URL('..', import.meta.url).pathname
const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8')

const FILES = ['compose.base.yaml', 'compose.yaml', 'compose.scale.yaml'] as const
const text = Object.fromEntries(FILES.map((name) => [name, read(name)])) as Record<(typeof FILES)[number], string>

interface Service {
  extends?: { file: string; service: string }
  environment?: Record<string, string | number | boolean>
  [key: string]: unknown
}
interface ComposeFile {
  services: Record<string, Service>
  [key: string]: unknown
}
const yaml = Object.fromEntries(FILES.map((name) => [name, parse(text[name]) as ComposeFile])) as Record<
  (typeof FILES)[number],
  ComposeFile
>
const base = yaml['compose.base.yaml'].services
const stacks = { 'compose.yaml': yaml['compose.yaml'], 'compose.scale.yaml': yaml['compose.scale.yaml'] }

/** A service as Compose sees it: the base's keys, then the file's own (environment merged). */
function resolved(file: keyof typeof stacks, name: string): Service {
  const own = stacks[file].services[name]
  const from = own.extends ? base[own.extends.service] : {}
  return { ...from, ...own, environment: { ...from.environment, ...own.environment } }
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` in every compose file: name -> the defaults it has. */
const composeVariables = new Map<string, Set<string | undefined>>()
for (const file of FILES) {
  for (const [, name, kind, value] of text[file].matchAll(/\$\{(\w+)(?::([-?])([^}]*))?\}/g)) {
    const defaults = composeVariables.get(name) ?? new Set()
    defaults.add(kind === '-' ? value : undefined)
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

t.test('every file works with docker-compose 1.29 as well as Compose v2', async (t) => {
  for (const file of FILES) {
    const lines = text[file].replace(/^\s*#.*$/gm, '')
    t.notMatch(lines, /^name:/m, `${file}: no top-level name (project names come from the folder or -p)`)
    t.notMatch(lines, /start_interval/, `${file}: no healthcheck.start_interval`)
    t.notMatch(lines, /^version:/m, `${file}: no obsolete version key (Compose v2 warns about it)`)
    t.notMatch(lines, /!reset|!override|^include:/m, `${file}: no tags or include of Compose v2 only`)
    for (const [name, service] of Object.entries(yaml[file].services)) {
      const dependsOn = (service.depends_on ?? {}) as Record<string, Record<string, unknown>>
      if (!Array.isArray(dependsOn)) {
        for (const [, rule] of Object.entries(dependsOn))
          t.notOk('restart' in rule, `${file} ${name}: no depends_on.*.restart`)
      }
    }
  }
  // docker-compose 1.29 refuses to extend a service that has depends_on.
  for (const [name, service] of Object.entries(base)) t.notOk(service.depends_on, `base ${name}: no depends_on`)
})

t.test(
  'both stacks take every service from compose.base.yaml and add only names, storage, ports and order',
  async (t) => {
    t.same(Object.keys(stacks['compose.yaml'].services).sort(), ['cache', 'db', 'web'])
    t.same(Object.keys(stacks['compose.scale.yaml'].services).sort(), ['cache', 'db', 'lb', 'web'])
    const added = new Set(['extends', 'container_name', 'volumes', 'networks', 'ports', 'depends_on', 'environment'])
    for (const [file, stack] of Object.entries(stacks)) {
      for (const [name, service] of Object.entries(stack.services)) {
        t.same(service.extends, { file: 'compose.base.yaml', service: name }, `${file} ${name} extends the base`)
        for (const key of Object.keys(service)) t.ok(added.has(key), `${file} ${name}: ${key} belongs in the base`)
      }
    }
    t.same(yaml['compose.yaml'].secrets, yaml['compose.scale.yaml'].secrets, 'the same secrets in both')
  },
)

t.test("compose.yaml keeps the original's names; compose.scale.yaml's belong to its project", async (t) => {
  const names = Object.fromEntries(['db', 'cache', 'web'].map((s) => [s, resolved('compose.yaml', s).container_name]))
  t.same(names, { db: 'desafio3-postgres', cache: 'desafio3-redis', web: 'desafio3-web' })
  t.same(yaml['compose.yaml'].networks, { 'desafio3-network': { name: 'desafio3-network', driver: 'bridge' } })
  t.same(yaml['compose.yaml'].volumes, {
    postgres_data: { name: 'desafio3-postgres-data' },
    redis_data: { name: 'desafio3-redis-data' },
  })
  const scale = yaml['compose.scale.yaml']
  for (const name of Object.keys(scale.services)) t.notOk(resolved('compose.scale.yaml', name).container_name, name)
  t.notOk(scale.networks, 'the project network (<project>_default)')
  for (const [name, volume] of Object.entries((scale.volumes ?? {}) as Record<string, unknown>)) {
    t.notOk((volume as { name?: string } | null)?.name, `volume ${name} is the project's (<project>_${name})`)
  }
})

t.test('only web (compose.yaml) or lb (compose.scale.yaml) is published, on WEB_PORT', async (t) => {
  const published = (file: keyof typeof stacks) =>
    Object.keys(stacks[file].services).filter((name) => resolved(file, name).ports)
  t.same(published('compose.yaml'), ['web'])
  t.same(published('compose.scale.yaml'), ['lb'])
  const onWebPort = ['$' + '{WEB_PORT:-5000}:5000']
  t.same(resolved('compose.yaml', 'web').ports, onWebPort)
  t.same(resolved('compose.scale.yaml', 'lb').ports, onWebPort)
})

t.test("web's environment: every setting of the app, from the environment, no other", async (t) => {
  for (const file of ['compose.yaml', 'compose.scale.yaml'] as const) {
    const environment = resolved(file, 'web').environment ?? {}
    t.same(
      Object.keys(environment).sort(),
      [...schemaVariables].sort(),
      `${file}: web gets each variable of lib/config.ts`,
    )
    for (const name of schemaVariables) {
      const value = String(environment[name])
      if (name in WIRING) t.equal(value, String(WIRING[name]), `${file}: ${name} is the stack's wiring`)
      else
        t.match(value, new RegExp(`^\\$\\{${name}:-[^}]*\\}$`), `${file}: ${name} comes from the environment or .env`)
    }
  }
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
    else if (defaults.size > 1 || value === '') t.equal(value, '', `${name}: empty, each file's default applies`)
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
    ...readdirSync(new URL('../docs', import.meta.url))
      .filter((name) => name.endsWith('.md'))
      .map((name) => read(`docs/${name}`)),
  ].join('\n')
  for (const name of composeVariables.keys()) t.match(docs, `\`${name}\``, name)
})

t.test('secrets: each service mounts the ones it reads; no password on a command line', async (t) => {
  t.same(base.db.secrets, ['postgres_password'])
  t.same(base.cache.secrets, ['redis_password'])
  t.same([...(base.web.secrets as string[])].sort(), ['api_keys', 'postgres_password', 'redis_password'])
  t.notOk(base.lb.secrets)
  for (const [name, { file }] of Object.entries(yaml['compose.yaml'].secrets as Record<string, { file: string }>)) {
    t.equal(file, `\${SECRETS_DIR:-./deploy/compose/no-secrets}/${name}`, `${name} comes from SECRETS_DIR`)
    t.equal(
      statSync(new URL(`../deploy/compose/no-secrets/${name}`, import.meta.url)).size,
      0,
      `${name}: empty placeholder`,
    )
  }
  for (const [name, service] of Object.entries(base)) {
    const command = JSON.stringify([service.command ?? '', service.entrypoint ?? '', service.healthcheck ?? ''])
    t.notMatch(command, /PASSWORD|API_KEYS/, `${name}: no secret variable in a command or health check`)
  }
  for (const name of ['POSTGRES_PASSWORD', 'POSTGRES_PASSWORD_FILE']) t.ok(base.db.environment?.[name], `db: ${name}`)
  for (const name of ['REDIS_PASSWORD', 'REDIS_PASSWORD_FILE']) t.ok(base.cache.environment?.[name], `cache: ${name}`)
})

/** Runs a program; undefined when it is not installed. */
async function tryRun(file: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    return await exec(file, args, { cwd: PROJECT_DIR, env, timeout: 60_000 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

t.test('docker-compose 1.29 and Compose v2 (where installed) load both files', async (t) => {
  const env = { ...process.env, POSTGRES_PASSWORD: 'x', COMPOSE_PROJECT_NAME: 'desafio3-config-check' }
  const tools: [string, string[]][] = [
    ['docker-compose', []],
    ['docker', ['compose']],
  ]
  for (const [tool, prefix] of tools) {
    const version = await tryRun(tool, [...prefix, 'version']).catch(() => undefined)
    if (!version) {
      t.comment(`${[tool, ...prefix].join(' ')} is not installed here: not checked`)
      continue
    }
    for (const file of ['compose.yaml', 'compose.scale.yaml']) {
      const result = await tryRun(tool, [...prefix, '-f', file, 'config'], env)
      const config = parse(result?.stdout ?? '') as ComposeFile
      t.same(Object.keys(config.services).sort(), Object.keys(stacks[file as keyof typeof stacks].services).sort())
      t.equal(config.services.web.environment?.REDIS_HOST, 'cache', `${tool}: ${file} extends the base`)
    }
  }
})

t.test('deploy/haproxy/haproxy.cfg passes `haproxy -c` in the load balancer image', async (t) => {
  const image = process.env.HAPROXY_IMAGE ?? 'haproxy:3'
  const args = ['run', '--rm', '-v', `${PROJECT_DIR}deploy/haproxy:/usr/local/etc/haproxy:ro`, image]
  const result = await tryRun('docker', [...args, '-c', '-f', '/usr/local/etc/haproxy/haproxy.cfg'])
  if (!result) {
    t.comment('no docker here: not checked')
    return
  }
  t.match(result.stdout + result.stderr, /Configuration file is valid/)
  t.notMatch(result.stdout + result.stderr, /WARNING|ALERT/, 'no warning')
  const config = read('deploy/haproxy/haproxy.cfg')
  t.match(config, /server-template web \d+ web:5000 .*resolvers docker/, 'finds the replicas through Docker DNS')
  t.match(config, /nameserver dns 127\.0\.0\.11:53/)
  // Each section's directives (a section starts at an unindented line).
  const sections = new Map<string, string[]>()
  let section = ''
  for (const line of config.split('\n')) {
    if (/^\S/.test(line)) {
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
  const readyLines = sections.get('frontend http')?.filter((line) => line.startsWith('acl web_ready ')) ?? []
  t.same(
    readyLines,
    Array.from({ length: slots }, (_, i) => `acl web_ready srv_is_up(web/web${i + 1})`),
    `web_ready looks at every one of the ${slots} replica slots`,
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
})

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
})
