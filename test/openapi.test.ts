import { readFile } from 'node:fs/promises'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { build } from './helpers/app.ts'

const packageJson = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))

const ROUTES: Record<string, Record<string, string[]>> = {
  '/': { get: ['200', '429', '500', '503'] },
  '/users': {
    get: ['200', '400', '429', '500', '503'],
    post: ['201', '400', '401', '409', '413', '415', '422', '429', '500', '503'],
  },
  '/users/{id}': {
    get: ['200', '400', '404', '414', '429', '500', '503'],
    patch: ['200', '400', '401', '404', '409', '413', '414', '415', '429', '500', '503'],
    delete: ['204', '400', '401', '404', '413', '414', '415', '429', '500', '503'],
  },
  '/cache': { post: ['201', '400', '401', '409', '413', '415', '422', '429', '500', '503', '507'] },
  '/cache/{key}': { get: ['200', '400', '404', '414', '429', '500', '503'] },
  '/health': { get: ['200', '500', '503'] },
  '/health/ready': { get: ['200', '500', '503'] },
  '/health/live': { get: ['200', '500'] },
}

// The names a generated client gives its methods.
const OPERATION_IDS: Record<string, Record<string, string>> = {
  '/': { get: 'getInfo' },
  '/users': { get: 'listUsers', post: 'createUser' },
  '/users/{id}': { get: 'getUser', patch: 'updateUser', delete: 'deleteUser' },
  '/cache': { post: 'putCacheEntry' },
  '/cache/{key}': { get: 'getCacheEntry' },
  '/health': { get: 'getHealth' },
  '/health/ready': { get: 'getReadiness' },
  '/health/live': { get: 'getLiveness' },
}

t.test('/docs/json is a valid OpenAPI 3 document describing every route', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const document = res.json()
  t.match(document.openapi, /^3\./)
  t.equal(document.info.title, 'desafio3 API')
  t.equal(document.info.version, packageJson.version, 'the version is the package version')
  t.match(document.info.description, /Rate limiting.*retry-after/s)
  t.same(document.servers, [{ url: '/', description: 'This server' }], 'relative: works behind compose, on any port')
  t.match(document.info.contact, { name: /\S/, url: /^https?:\/\// }, 'a contact')
  t.same(document.info.license, { name: packageJson.license, identifier: packageJson.license }, 'the license')

  // validate() dereferences in place: give it a copy.
  await t.resolves(SwaggerParser.validate(structuredClone(document)), 'passes the OpenAPI validator')

  t.same(Object.keys(document.paths).sort(), Object.keys(ROUTES).sort(), 'every route, and only the routes')
  for (const [path, methods] of Object.entries(ROUTES)) {
    for (const [method, statuses] of Object.entries(methods)) {
      const operation = document.paths[path][method]
      t.ok(operation, `${method.toUpperCase()} ${path} is documented`)
      t.equal(operation.operationId, OPERATION_IDS[path][method], `${method.toUpperCase()} ${path} operationId`)
      t.match(
        operation,
        { summary: /\S/, description: /\S/ },
        `${method.toUpperCase()} ${path} summary and description`,
      )
      t.same(Object.keys(operation.responses).sort(), statuses.sort(), `${method.toUpperCase()} ${path} statuses`)
      for (const [status, response] of Object.entries<{ content?: Record<string, { schema?: unknown }> }>(
        operation.responses,
      )) {
        const operationName = `${method.toUpperCase()} ${path} ${status}`
        if (status === '204') t.notOk(response.content, `${operationName} has no body`)
        else t.ok(response.content?.['application/json']?.schema, `${operationName} has a schema`)
      }
    }
  }
  const body = document.paths['/cache'].post.requestBody.content['application/json']
  t.ok(body.schema, 'POST /cache body schema')
  t.same(body.example, { key: 'user:1', value: { name: 'João' }, ttl: 300 }, 'POST /cache body has an example')

  const tags = document.tags.map((tag: { name: string }) => tag.name)
  t.same(tags, ['info', 'users', 'cache', 'health'], 'one tag per resource')
  for (const [path, methods] of Object.entries(ROUTES)) {
    for (const method of Object.keys(methods)) {
      const [tag] = document.paths[path][method].tags
      t.ok(tags.includes(tag), `${method.toUpperCase()} ${path} is under a declared tag (${tag})`)
    }
  }
  t.notOk(document.paths['/metrics'], '/metrics is not part of the API document')
  t.match(document.paths['/cache/{key}'].get.parameters, [{ name: 'key', in: 'path', required: true }])
  t.ok(document.components.schemas.ErrorResponse, 'errors share one schema')
  t.same(
    Object.keys(document.components.schemas).sort(),
    [
      'CacheEntry',
      'CacheWrite',
      'CacheWritten',
      'ErrorResponse',
      'HealthReport',
      'Liveness',
      'NewUser',
      'ServiceInfo',
      'User',
      'UserChanges',
      'UserPage',
    ],
    'each resource is a named component (a generated client gets named types)',
  )
  const ref = (schema: { $ref?: string }) => schema.$ref?.replace('#/components/schemas/', '')
  t.equal(ref(body.schema), 'CacheWrite', 'POST /cache body')
  t.equal(ref(document.paths['/users/{id}'].get.responses['200'].content['application/json'].schema), 'User')
  t.equal(ref(document.components.schemas.UserPage.properties.users.items), 'User', 'a page holds User items')

  const users = document.paths['/users']
  t.match(
    users.get.parameters.map((p: { name: string; in: string; required?: boolean }) => [p.name, p.in, !!p.required]),
    [
      ['limit', 'query', false],
      ['after', 'query', false],
      ['offset', 'query', false],
      ['department', 'query', false],
    ],
  )
  t.match(users.get.responses['200'].headers, { link: { schema: { type: 'string' } } }, 'Link documented')
  t.match(
    document.components.schemas.UserPage.properties.next,
    { type: ['string', 'null'] },
    'the next page in the body too',
  )
  t.ok(users.post.requestBody.content['application/json'].schema, 'POST /users body schema')
  t.match(users.post.responses['201'].headers, { location: { schema: { type: 'string' } } }, 'Location documented')
  const user = document.paths['/users/{id}']
  t.match(user.get.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }])
  t.match(
    user.get.responses['200'].headers,
    { 'x-cache': { schema: { enum: ['hit', 'miss', 'bypass'] } } },
    'x-cache documented',
  )
  t.ok(user.patch.requestBody.content['application/json'].schema, 'PATCH /users/{id} body schema')
})

t.test('the writes, and only they, declare the API key scheme, with their 401', async (t) => {
  const app = await build(t)
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.same(document.components.securitySchemes, {
    apiKey: {
      type: 'http',
      scheme: 'bearer',
      description: String(document.components.securitySchemes.apiKey.description),
    },
  })
  t.match(document.components.securitySchemes.apiKey.description, /Authorization: Bearer <key>.*API_KEYS/s)
  t.notOk(document.security, 'no document-wide requirement: reads stay open')
  const secured = Object.entries<
    Record<string, { security?: unknown; responses: Record<string, { headers?: object }> }>
  >(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, operation]) => operation.security)
      .map(([method, operation]) => {
        t.same(operation.security, [{ apiKey: [] }], `${method.toUpperCase()} ${path} needs an API key`)
        t.match(
          operation.responses['401'],
          { headers: { 'www-authenticate': { schema: { type: 'string' } } } },
          `${method.toUpperCase()} ${path} documents its 401 and WWW-Authenticate`,
        )
        return `${method.toUpperCase()} ${path}`
      }),
  )
  t.same(secured.sort(), ['DELETE /users/{id}', 'PATCH /users/{id}', 'POST /cache', 'POST /users'])
  t.match(document.info.description, /API keys.*Authorization: Bearer <key>/s)
})

t.test('the writes that take an Idempotency-Key document it, the replay header and their 409 and 422', async (t) => {
  const app = await build(t)
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const taking = Object.entries<Record<string, { parameters?: { name: string; in: string }[] }>>(
    document.paths,
  ).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, operation]) => operation.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'))
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  )
  t.same(taking.sort(), ['POST /cache', 'POST /users'])
  for (const path of ['/users', '/cache']) {
    const operation = document.paths[path].post
    const name = `POST ${path}`
    const header = operation.parameters.find((p: { name: string }) => p.name === 'idempotency-key')
    t.match(
      header,
      { in: 'header', required: false, description: /24 hours/, schema: { type: 'string', pattern: /\S/ } },
      `${name}: the header, optional`,
    )
    t.notOk(
      header.example ?? header.examples ?? header.schema.examples,
      `${name}: no example key, which Swagger UI would send with every "Try it out"`,
    )
    t.match(
      operation.responses['201'].headers,
      { 'idempotent-replayed': { schema: { type: 'string', enum: ['true'] } } },
      `${name}: the replay header`,
    )
    t.match(operation.responses['409'], { description: /IDEMPOTENCY_KEY_IN_USE/, headers: { 'retry-after': {} } })
    t.match(operation.responses['422'], {
      description: /Idempotency-Key/,
      content: { 'application/json': { example: { statusCode: 422, code: 'IDEMPOTENCY_KEY_REUSED' } } },
    })
  }
  t.match(document.info.description, /Idempotency-Key/)
})

t.test('the server answers the statuses the document lists for a long path parameter and a foreign body', async (t) => {
  const app = await build(t)
  const longKey = await app.inject({ method: 'GET', url: `/cache/${'k'.repeat(7000)}` })
  t.equal(longKey.statusCode, 414, 'a key longer than the router accepts')
  t.match(longKey.json(), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH', error: 'Bad Request' })
  const longId = await app.inject({ method: 'DELETE', url: `/users/${'1'.repeat(7000)}` })
  t.equal(longId.statusCode, 414, 'an id longer than the router accepts')

  for (const [method, url] of [
    ['POST', '/cache'],
    ['POST', '/users'],
    ['PATCH', '/users/1'],
    ['DELETE', '/users/1'],
  ] as const) {
    const res = await app.inject({ method, url, payload: '<user/>', headers: { 'content-type': 'application/xml' } })
    t.equal(res.statusCode, 415, `${method} ${url} with an XML body`)
    t.match(res.json(), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', error: 'Unsupported Media Type' })
  }
})

t.test('/docs serves the Swagger UI', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
})
