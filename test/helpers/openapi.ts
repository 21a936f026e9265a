import type { Server } from './app.ts'

type Schema = Record<string, unknown> & { $ref?: string; examples?: unknown[]; properties?: Record<string, Schema> }

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required?: boolean
  schema: Schema
}

interface Response {
  description: string
  headers?: Record<string, unknown>
  content?: Record<string, { schema?: Schema; example?: unknown }>
}

interface OperationObject {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  security?: Record<string, string[]>[]
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown }> }
  responses: Record<string, Response>
}

export interface ApiDocument {
  openapi: string
  info: Record<string, unknown> & { description: string }
  tags: { name: string; description: string }[]
  paths: Record<string, Record<string, OperationObject>>
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> }
  [field: string]: unknown
}

/** One operation of the API document, with what the tests derive from it. */
export interface Operation extends OperationObject {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** As documented: `/users/{id}`. */
  path: string
  /** `POST /users/{id}`. */
  name: string
  /** A write (POST, PATCH, PUT, DELETE). */
  writes: boolean
  /** The body's schema, its component's when it is one. */
  bodySchema?: Schema
}

/** The document the app serves at /docs/json. */
export async function apiDocument(app: Server): Promise<ApiDocument> {
  return (await app.inject({ method: 'GET', url: '/docs/json' })).json()
}

const componentOf = (document: ApiDocument, schema: Schema | undefined) =>
  schema?.$ref ? document.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema

/** Every operation of the API document. */
export async function operations(app: Server): Promise<Operation[]> {
  const document = await apiDocument(app)
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const upper = method.toUpperCase() as Operation['method']
      return {
        ...operation,
        method: upper,
        path,
        name: `${upper} ${path}`,
        writes: upper !== 'GET',
        bodySchema: componentOf(document, operation.requestBody?.content['application/json']?.schema),
      }
    }),
  )
}

/** An example value of a parameter: its schema's example, else its minimum, else a word. */
function exampleOf(parameter: Parameter): string {
  const { examples, minimum } = parameter.schema as { examples?: unknown[]; minimum?: number }
  return String(examples?.[0] ?? minimum ?? 'example')
}

/** A URL for the operation, its path parameters filled with `values` or their examples. */
export function urlOf(operation: Operation, values: Record<string, string> = {}): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const parameter = operation.parameters?.find((p) => p.in === 'path' && p.name === name)
    return encodeURIComponent(values[name] ?? (parameter ? exampleOf(parameter) : 'example'))
  })
}

/** The operation's example request body (the one Swagger UI shows), if it takes one. */
export function exampleBody(operation: Operation): unknown {
  return operation.requestBody?.content['application/json']?.example
}
