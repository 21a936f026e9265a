// compose.yaml, .env.example, the Dockerfile and docs/configuration.md agree with each
// other and with the app. (`npm run test:compose` runs the stack itself.)
import { readFileSync } from 'node:fs'
import t from 'tap'
import { ConfigSchema } from '../lib/config.ts'

const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8')
const compose = read('compose.yaml')
const composeWithoutComments = compose.replace(/^\s*#.*$/gm, '')
const envExample = read('.env.example')
const dockerfile = read('Dockerfile')
const configurationDoc = read('docs/configuration.md')

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` in compose.yaml: name → default (undefined: none). */
const composeVariables = new Map<string, string | undefined>(
  [...compose.matchAll(/\$\{(\w+)(?::([-?])([^}]*))?\}/g)].map(([, name, kind, value]) => [
    name,
    kind === '-' ? value : undefined,
  ]),
)

/** NAME=value lines of .env.example, each with the comment lines above it. */
const exampleEntries = new Map<string, { value: string; comment: string }>()
let comment = ''
for (const line of envExample.split('\n')) {
  const assignment = line.match(/^(\w+)=(.*)$/)
  if (line.startsWith('#')) comment += line
  else if (assignment) {
    exampleEntries.set(assignment[1], { value: assignment[2], comment })
    comment = ''
  } else comment = ''
}

/** The lines of one service in compose.yaml. */
function service(name: string): string {
  const match = compose.match(new RegExp(`\\n {2}${name}:\\n((?: {4}.*\\n|\\s*\\n)+)`))
  if (!match) throw new Error(`no service ${name} in compose.yaml`)
  return match[1]
}

t.test('compose.yaml works with docker-compose 1.29 as well as Compose v2', async (t) => {
  t.notMatch(composeWithoutComments, /^name:/m, 'no top-level name (project names come from the folder or -p)')
  t.notMatch(composeWithoutComments, /start_interval/, 'no healthcheck.start_interval')
  for (const [, block] of composeWithoutComments.matchAll(/depends_on:\n((?: {6,}.*\n)+)/g)) {
    t.notMatch(block, /restart:/, 'no depends_on.*.restart')
  }
  t.notMatch(composeWithoutComments, /^version:/m, 'no obsolete version key (Compose v2 warns about it)')
})

t.test('.env.example lists every variable compose.yaml reads, with a comment, and no other', async (t) => {
  t.same([...exampleEntries.keys()].sort(), [...composeVariables.keys()].sort())
  for (const [name, { comment }] of exampleEntries) t.ok(comment, `${name} has a comment`)
})

t.test(".env.example's values are compose.yaml's defaults, and only the database password is required", async (t) => {
  for (const [name, defaultValue] of composeVariables) {
    if (name === 'POSTGRES_PASSWORD') {
      t.equal(defaultValue, undefined, 'POSTGRES_PASSWORD has no default')
      t.match(compose, /\$\{POSTGRES_PASSWORD:\?[^}]+\}/, 'compose stops with a message without it')
    } else t.equal(exampleEntries.get(name)?.value, defaultValue, name)
  }
})

t.test('docs/configuration.md documents every compose variable', async (t) => {
  for (const name of composeVariables.keys()) t.match(configurationDoc, `| \`${name}\``, name)
})

t.test("web's environment names only variables the app reads", async (t) => {
  const web = service('web')
  const environment = web.match(/ {4}environment:\n((?: {6}.*\n)+)/)
  t.ok(environment, 'web has an environment')
  const names = [...(environment?.[1] ?? '').matchAll(/^ {6}(\w+):/gm)].map(([, name]) => name)
  t.ok(names.length > 5)
  for (const name of names) t.ok(name in ConfigSchema.properties, `${name} is in lib/config.ts`)
})

t.test('db and cache are not published; web is, on WEB_PORT', async (t) => {
  t.notMatch(service('db'), /ports:/)
  t.notMatch(service('cache'), /ports:/)
  t.match(service('web'), /- "\$\{WEB_PORT:-5000\}:5000"/)
})

t.test("the Dockerfile's defaults and rules", async (t) => {
  t.match(dockerfile, `ARG NODE_IMAGE=${composeVariables.get('NODE_IMAGE')}`, 'same base image as compose')
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
