import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { packageLicense, packageVersion } from '../../lib/package-info.ts'
import { RESOURCES } from '../../lib/schemas/resources.ts'
import { SECURITY_SCHEMES } from '../../lib/schemas/security.ts'

const DESCRIPTION = [
  'A Fastify web service with PostgreSQL (users) and Redis (a key-value cache), orchestrated by Docker Compose.',
  '',
  '- **Errors** are JSON: `{ statusCode, code, error, message }`. Each operation lists the statuses its route',
  '  answers. Before any route is chosen the server may also answer 400 (a malformed request), 408 (the',
  '  headers or the body did not arrive within `HTTP_HEADERS_TIMEOUT_MS` / `HTTP_REQUEST_TIMEOUT_MS`) or 431',
  '  (headers too large).',
  '- **Request ids**: send `x-request-id` (up to 128 letters, digits and `._:=+/@-`) or get a new UUID;',
  '  every response carries it back, and every log line of the request has it as `requestId`.',
  '- **Rate limiting**: `RATE_LIMIT_MAX` requests per `RATE_LIMIT_WINDOW_MS` per client address, shared',
  '  by every replica through Redis; then 429 with a `retry-after` header (seconds). The health checks and',
  '  `/metrics` are not limited.',
  '- **API keys**: when the server has `API_KEYS` set, the writes (POST, PATCH, DELETE) need',
  '  `Authorization: Bearer <key>` (else 401 with `www-authenticate: Bearer`); reads never do.',
  '- **Safe retries**: POST /users and POST /cache take an `Idempotency-Key` header (a quoted UUID will do).',
  '  A retry with the same key and request gets the first answer again (`idempotent-replayed: true`) and writes',
  '  nothing; the same key with another request is a 422, a retry while the first still runs a 409.',
  '- **Overload**: an instance past its capacity answers 503 (`OVERLOADED`) with a `retry-after` header.',
  '- **Metrics** for Prometheus at `/metrics` (text format, not part of this API document).',
].join('\n')

// No public address for the project yet: the contact is the documentation
// this service serves, at its default address.
const CONTACT = { name: 'desafio3 maintainers', url: 'http://127.0.0.1:5000/docs' }

type Document = { paths?: Record<string, Record<string, Operation>>; components?: { schemas?: Schemas } }
type Operation = { requestBody?: { content?: Record<string, { schema?: { $ref?: string }; example?: unknown }> } }
type Schemas = Record<string, { examples?: unknown[] }>

/**
 * A request body that is a component keeps its examples in the component;
 * each body also gets the first of them, where the UI and generated
 * documentation show an example request.
 */
function withBodyExamples<D>(document: D): D {
  const { paths = {}, components = {} } = document as Document
  const schemas: Schemas = components.schemas ?? {}
  for (const operation of Object.values(paths).flatMap((methods) => Object.values(methods))) {
    for (const media of Object.values(operation.requestBody?.content ?? {})) {
      const example = schemas[media.schema?.$ref?.split('/').pop() ?? '']?.examples?.[0]
      if (example !== undefined) media.example ??= example
    }
  }
  return document
}

/** OpenAPI 3.1, generated from the route schemas; UI at /docs, JSON at /docs/json. */
export default fp(
  async function swaggerPlugin(fastify) {
    for (const schema of RESOURCES) fastify.addSchema(schema)
    await fastify.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'desafio3 API',
          version: packageVersion,
          description: DESCRIPTION,
          contact: CONTACT,
          license: { name: packageLicense, identifier: packageLicense },
        },
        // Relative: requests go to wherever the page was loaded from (any host,
        // any port, behind compose or a proxy).
        servers: [{ url: '/', description: 'This server' }],
        // Swagger UI's Authorize button; the writes declare it (API_KEY_REQUIRED).
        components: { securitySchemes: SECURITY_SCHEMES },
        tags: [
          { name: 'info', description: 'About the service' },
          { name: 'users', description: 'Users stored in PostgreSQL' },
          { name: 'cache', description: 'A JSON key-value cache in Redis, with expiry' },
          { name: 'health', description: 'Health of the service and its dependencies' },
        ],
      },
      transformObject: (documentObject) =>
        withBodyExamples(
          'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject,
        ),
      // Shared schemas become components named after their $id.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    })
    await fastify.register(fastifySwaggerUi, { routePrefix: '/docs' })
  },
  { name: 'swagger', fastify: '5.x' },
)
