import { readFile } from 'node:fs/promises'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { build } from './helpers/app.ts'
import { apiDocument, exampleBody, type Operation, operations, urlOf } from './helpers/openapi.ts'

// The document describes what the server does. Everything here is derived from
// the document and from the server's answers, so a new resource is checked
// like the others without being listed.

const packageJson = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))

const app = await build(t)
const document = await apiDocument(app)
const all = await operations(app)

t.test('/docs/json is a valid OpenAPI 3 document about this service', async (t) => {
  t.match(document.openapi, /^3\./)
  t.equal(document.info.title, 'desafio3 API')
  t.equal(document.info.version, packageJson.version, 'the version is the package version')
  t.match(document.info.description, /Rate limiting.*retry-after/s)
  t.same(document.servers, [{ url: '/', description: 'This server' }], 'relative: works behind compose, on any port')
  t.match(document.info.contact, { name: /\S/, url: /^https?:\/\// }, 'a contact')
  t.same(document.info.license, { name: packageJson.license, identifier: packageJson.license }, 'the license')
  t.notOk(document.paths['/metrics'], '/metrics is not part of the API document')
  // validate() dereferences in place: give it a copy.
  await t.resolves(SwaggerParser.validate(structuredClone(document) as never), 'passes the OpenAPI validator')
})

t.test('the document has every route of the server, and only those', async (t) => {
  // GET / lists every named route (plugins/app/endpoints.ts): all but the docs and metrics are operations.
  const listed = Object.entries<string>((await app.inject({ method: 'GET', url: '/' })).json().endpoints)
    .filter(([name]) => name !== 'docs' && name !== 'metrics')
    .map(([, path]) => path)
  const documented = all.map(({ method, path }) => {
    const original = path.replace(/\{(\w+)\}/g, '<$1>')
    return method === 'GET' ? original : `${original} (${method})`
  })
  t.same(documented.sort(), listed.sort())
  t.ok(all.length >= 11, `${all.length} operations`)
})

t.test('each operation has a unique operationId, a summary, a description and a declared tag', async (t) => {
  const ids = all.map((operation) => operation.operationId)
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique (a generated client names its methods by them)')
  const declared = document.tags.map((tag) => tag.name)
  for (const operation of all) {
    t.match(operation.operationId, /^[a-z][A-Za-z]+$/, `${operation.name}: operationId`)
    t.match(operation, { summary: /\S/, description: /\S/ }, `${operation.name}: summary and description`)
    t.equal(operation.tags?.length, 1, `${operation.name}: one tag`)
    t.ok(declared.includes(operation.tags?.[0] ?? ''), `${operation.name}: under a declared tag`)
  }
  for (const tag of document.tags) {
    t.match(tag.description, /\S/, `tag ${tag.name} has a description`)
    t.ok(
      all.some((operation) => operation.tags?.includes(tag.name)),
      `tag ${tag.name} has operations`,
    )
  }
})

/** The statuses the server's own machinery may answer for an operation, whatever its handler does. */
function machineryStatuses(operation: Operation): string[] {
  const parameters = operation.parameters ?? []
  return [
    '500',
    ...(parameters.length > 0 || operation.requestBody ? ['400'] : []),
    ...(operation.security ? ['401'] : []),
    ...(operation.writes ? ['413', '415'] : []),
    ...(parameters.some((p) => p.in === 'path') ? ['414'] : []),
  ]
}

t.test('each operation documents every status it can answer, and a body for each', async (t) => {
  for (const operation of all) {
    const statuses = Object.keys(operation.responses)
    for (const status of machineryStatuses(operation)) {
      t.ok(statuses.includes(status), `${operation.name} documents ${status}`)
    }
    t.equal(statuses.filter((status) => status.startsWith('2')).length, 1, `${operation.name}: one success status`)
    for (const [status, response] of Object.entries(operation.responses)) {
      const schema = response.content?.['application/json']?.schema
      if (status === '204') t.notOk(response.content, `${operation.name} ${status} has no body`)
      else t.match(schema?.$ref, /^#\/components\/schemas\/\w+$/, `${operation.name} ${status}: a named schema`)
      // Errors have the error body; /health's 503 is its report.
      if (status >= '400' && schema?.$ref === '#/components/schemas/ErrorResponse') {
        t.match(
          response.content?.['application/json']?.example,
          { statusCode: Number(status), error: /\S/, message: /\S/ },
          `${operation.name} ${status}: an example error`,
        )
      }
    }
    t.equal(
      operation.responses['500'].content?.['application/json'].schema?.$ref,
      '#/components/schemas/ErrorResponse',
      `${operation.name}: a 500 is the error body`,
    )
    if (operation.requestBody) {
      t.match(operation.bodySchema, { type: 'object' }, `${operation.name}: its body is a named object schema`)
      t.ok(exampleBody(operation), `${operation.name}: an example body`)
    }
  }
})

t.test('the rate limit: an operation documents 429 exactly when the server limits it', async (t) => {
  const limited = await build(t, { RATE_LIMIT_MAX: '1' })
  for (const [i, operation] of all.entries()) {
    const request = {
      method: operation.method,
      url: urlOf(operation),
      payload: exampleBody(operation) as object | undefined,
      remoteAddress: `192.0.2.${i + 1}`,
    }
    await limited.inject(request)
    const second = await limited.inject(request)
    t.equal(
      'responses' in operation && '429' in operation.responses,
      second.statusCode === 429,
      `${operation.name}: ${second.statusCode === 429 ? 'limited' : 'not limited'}`,
    )
  }
})

t.test('every schema is a named component, and each component is used', async (t) => {
  const text = JSON.stringify(document.paths) + JSON.stringify(document.components.schemas)
  const referenced = new Set([...text.matchAll(/"#\/components\/schemas\/(\w+)"/g)].map(([, name]) => name))
  t.same([...referenced].sort(), Object.keys(document.components.schemas).sort(), 'no dangling or unused component')
  t.ok(document.components.schemas.ErrorResponse, 'errors share one schema')
})

t.test('the writes, and only they, declare the API key scheme, with their 401', async (t) => {
  t.same(document.components.securitySchemes, {
    apiKey: {
      type: 'http',
      scheme: 'bearer',
      description: String((document.components.securitySchemes.apiKey as { description: string }).description),
    },
  })
  t.match(
    (document.components.securitySchemes.apiKey as { description: string }).description,
    /Authorization: Bearer <key>.*API_KEYS/s,
  )
  t.notOk(document.security, 'no document-wide requirement: reads stay open')
  for (const operation of all) {
    if (!operation.writes) {
      t.notOk(operation.security, `${operation.name}: a read needs no key`)
      continue
    }
    t.same(operation.security, [{ apiKey: [] }], `${operation.name} needs an API key`)
    t.match(
      operation.responses['401'],
      { headers: { 'www-authenticate': { schema: { type: 'string' } } } },
      `${operation.name} documents its 401 and WWW-Authenticate`,
    )
  }
  t.match(document.info.description, /API keys.*Authorization: Bearer <key>/s)
})

t.test('an operation documents Idempotency-Key exactly when it replays a retry', async (t) => {
  const taking: string[] = []
  for (const operation of all.filter((operation) => operation.writes)) {
    const header = operation.parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key')
    const request = {
      method: operation.method,
      url: urlOf(operation),
      payload: exampleBody(operation) as object | undefined,
      headers: { 'idempotency-key': `"${operation.operationId}-0123456789abcdef"` },
    }
    await app.inject(request)
    const retry = await app.inject(request)
    const replayed = retry.headers['idempotent-replayed'] === 'true'
    t.equal(Boolean(header), replayed, `${operation.name}: ${replayed ? 'replays' : 'does not replay'} a retry`)
    if (!header) continue
    taking.push(operation.name)
    t.match(
      header,
      { in: 'header', required: false, description: /24 hours/, schema: { type: 'string', pattern: /\S/ } },
      `${operation.name}: the header, optional`,
    )
    t.notOk(
      (header as { example?: unknown }).example ?? header.schema.examples,
      `${operation.name}: no example key, which Swagger UI would send with every "Try it out"`,
    )
    const success = Object.keys(operation.responses).find((status) => status.startsWith('2')) ?? ''
    t.match(
      operation.responses[success].headers,
      { 'idempotent-replayed': { schema: { type: 'string', enum: ['true'] } } },
      `${operation.name}: the replay header`,
    )
    t.match(operation.responses['409'], { description: /IDEMPOTENCY_KEY_IN_USE/, headers: { 'retry-after': {} } })
    t.match(operation.responses['422'], {
      description: /Idempotency-Key/,
      content: { 'application/json': { example: { statusCode: 422 } } },
    })
  }
  t.ok(taking.length >= 2, `taking keys: ${taking.join(', ')}`)
  t.match(document.info.description, /Idempotency-Key/)
})

t.test('the server answers the statuses the document lists for a long path parameter and a foreign body', async (t) => {
  for (const operation of all) {
    if (operation.parameters?.some((p) => p.in === 'path')) {
      const url = operation.path.replace(/\{\w+\}/g, 'k'.repeat(7000))
      const res = await app.inject({ method: operation.method, url })
      t.equal(res.statusCode, 414, `${operation.name}: a parameter longer than the router accepts`)
      t.match(res.json(), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH', error: 'Bad Request' })
    }
    if (operation.writes) {
      const res = await app.inject({
        method: operation.method,
        url: urlOf(operation),
        payload: '<user/>',
        headers: { 'content-type': 'application/xml' },
      })
      t.equal(res.statusCode, 415, `${operation.name} with an XML body`)
      t.match(res.json(), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', error: 'Unsupported Media Type' })
    }
  }
})

t.test('the users and cache operations document their parameters, headers and bodies', async (t) => {
  const body = document.paths['/cache'].post.requestBody?.content['application/json']
  t.same(body?.example, { key: 'user:1', value: { name: 'João' }, ttl: 300 }, 'POST /cache body has an example')
  const ref = (schema?: { $ref?: string }) => schema?.$ref?.replace('#/components/schemas/', '')
  t.equal(ref(body?.schema), 'CacheWrite', 'POST /cache body')
  t.match(document.paths['/cache/{key}'].get.parameters, [{ name: 'key', in: 'path', required: true }])
  t.equal(ref(document.paths['/users/{id}'].get.responses['200'].content?.['application/json'].schema), 'User')
  t.equal(ref(document.components.schemas.UserPage.properties?.users.items as { $ref?: string }), 'User')

  const users = document.paths['/users']
  t.match(
    users.get.parameters?.map((p) => [p.name, p.in, !!p.required]),
    [
      ['limit', 'query', false],
      ['after', 'query', false],
      ['offset', 'query', false],
      ['department', 'query', false],
    ],
  )
  t.match(users.get.responses['200'].headers, { link: { schema: { type: 'string' } } }, 'Link documented')
  t.match(document.components.schemas.UserPage.properties?.next, { type: ['string', 'null'] }, 'next in the body')
  t.match(users.post.responses['201'].headers, { location: { schema: { type: 'string' } } }, 'Location documented')
  const user = document.paths['/users/{id}']
  t.match(user.get.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }])
  t.match(
    user.get.responses['200'].headers,
    { 'x-cache': { schema: { enum: ['hit', 'miss', 'bypass'] } } },
    'x-cache documented',
  )
})

t.test('/docs serves the Swagger UI', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
})
