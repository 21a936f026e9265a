// A client generated from /docs/json works: openapi-typescript turns the
// document into types, generated afresh at each run into
// test-output/openapi-client/api.ts (git-ignored; no copy is committed, so the
// document stays the one source), tsc checks them together with a small
// openapi-fetch client (test/openapi-client/tour.ts), and that client runs the
// README's curl tour against the real app listening on a port.
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript'
import t from 'tap'
import { build } from './helpers/app.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const GENERATED = new URL('../test-output/openapi-client/', import.meta.url)

t.test('a client generated from /docs/json type-checks and runs the curl tour', async (t) => {
  const app = await build(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  // Not over a socket: a keep-alive connection left idle while tsc runs below
  // could be closed by the server just as the tour reuses it.
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as OpenAPI3

  const types = astToString(await openapiTS(document, { silent: true }))
  await mkdir(GENERATED, { recursive: true })
  await writeFile(new URL('api.ts', GENERATED), types)
  t.match(types, /\bUser: \{/, 'the resources are named types')
  t.match(types, /\blistUsers: \{/, 'the operations are named by their operationId')

  const tsc = spawnSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'test/openapi-client/tsconfig.json'],
    { cwd: ROOT, encoding: 'utf8' },
  )
  t.equal(tsc.status, 0, `tsc on the generated types and the client:\n${tsc.stdout}${tsc.stderr}`)

  // Loaded by URL, so that `npm run lint` (tsc) does not follow it to types that exist only after this test.
  const { tour }: { tour: (baseUrl: string) => Promise<Record<string, Record<string, unknown>>> } = await import(
    new URL('openapi-client/tour.ts', import.meta.url).href
  )
  const result = await tour(baseUrl)
  t.match(result.info, { status: 200, service: 'Desafio 3 - Docker Compose', users: '/users' })
  t.match(result.users, { status: 200, total: 10, count: 10 })
  t.match(result.page, { status: 200, limit: 1, offset: 1, users: [{ department: 'Design' }] })
  t.match(result.created, { status: 201, location: '/users/11', user: { id: 11, username: 'nsouza' } })
  t.match(result.read, { status: 200, cache: /^(hit|miss|bypass)$/, user: { id: 11, full_name: 'Nina Souza' } })
  t.match(result.patched, { status: 200, department: 'QA' })
  t.same(result.deleted, { status: 204 })
  t.same(result.gone, { status: 404, code: 'USER_NOT_FOUND' }, 'errors arrive typed as ErrorResponse')
  t.same(result.stored, { status: 201, body: { message: 'Data cached successfully', key: 'user:1', ttl: 300 } })
  t.same(result.retried, { ...result.stored, replayed: 'true' }, 'the retry with the same Idempotency-Key')
  t.match(result.cached, { status: 200, value: { name: 'João' } })
  const ttl = Number(result.cached.ttl)
  t.ok(ttl > 0 && ttl <= 300, `seconds left: ${ttl}`)
  t.match(result.health, { status: 200, report: { status: 'healthy' } })
})
