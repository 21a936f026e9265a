import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { packageLicense, packageVersion } from '../../lib/package-info.ts'
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

const DOCS_PREFIX = '/docs'

// No public address for the project yet: the contact is the documentation
// this service serves, at its default address.
const CONTACT = { name: 'desafio3 maintainers', url: 'http://127.0.0.1:5000/docs' }

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Declares an OpenAPI tag, a resource's group of operations in /docs, with its
     * description; returns its name, for the routes' `tags`. In a routes module.
     */
    openapiTag(name: string, description: string): string
  }
}

type Tag = { name: string; description: string }
type Document = {
  paths?: Record<string, Record<string, Operation>>
  components?: { schemas?: Schemas }
  tags?: Tag[]
}
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

/**
 * OpenAPI 3.1, generated from the route schemas (and the shared ones each
 * registers, named after their $id); its tags are those the routes modules
 * declare. UI at /docs, JSON at /docs/json.
 */
export default fp(
  async function swaggerPlugin(fastify) {
    const tags = new Map<string, string>()
    fastify.decorate('openapiTag', (name: string, description: string) => {
      tags.set(name, description)
      return name
    })
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
      },
      transformObject: (documentObject) => {
        const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
        ;(document as Document).tags = [...tags].map(([name, description]) => ({ name, description }))
        return withBodyExamples(document)
      },
      // Shared schemas become components named after their $id.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    })
    // The UI's page is `docs` among the endpoints of GET / (plugins/app/endpoints.ts).
    fastify.addHook('onRoute', (route) => {
      if (route.url === DOCS_PREFIX && route.method === 'GET') route.config = { ...route.config, endpoint: 'docs' }
    })
    await fastify.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX })
  },
  { name: 'swagger', fastify: '5.x' },
)
