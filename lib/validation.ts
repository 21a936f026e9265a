import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type ValidatorFactory = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>

const compilers = AjvCompiler()

/**
 * Fastify's Ajv coerces types everywhere. Params, querystrings and headers
 * arrive as strings, so they need it; a JSON body carries its own types, so
 * it is validated as sent: `{"ttl": "60"}` or `{"key": 1}` is a 400, not
 * silently converted.
 */
export const buildValidator: ValidatorFactory = (externalSchemas, options) => {
  const coercing = compilers(externalSchemas, options)
  const strictOptions = { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } }
  const strict = compilers(externalSchemas, strictOptions as typeof options)
  return (route) => {
    if (route.httpPart === 'body') return strict(route)
    const validate = coercing(route)
    return mayHoldNumbers(route.schema) ? rejectingInfinity(validate) : validate
  }
}

/**
 * False for an object schema none of whose properties is a number: nothing in
 * it can be coerced to Infinity, and the check (a walk over every property of
 * the data: about 0.8 µs for a request's headers) is left out.
 */
function mayHoldNumbers(schema: unknown): boolean {
  const { type, properties } = schema as { type?: unknown; properties?: Record<string, { type?: unknown }> }
  if (type !== 'object' || properties === undefined) return true
  return Object.values(properties).some(
    (property) => property.type === undefined || [property.type].flat().some((t) => t === 'number' || t === 'integer'),
  )
}

type Validate = ReturnType<ReturnType<typeof compilers>>
type ValidateFunction = ((data: unknown, context?: unknown) => boolean) & {
  errors?: unknown[] | null
  schemaEnv?: unknown
}

/**
 * Ajv coerces "1e309" to Infinity and then skips `minimum` and `maximum`
 * (it checks them only for finite numbers), so `/users/1e309` would reach
 * Postgres. A coerced part holding a non-finite number is rejected here.
 */
function rejectingInfinity(validate: Validate): Validate {
  const inner = validate as unknown as ValidateFunction
  const wrapped: ValidateFunction = Object.assign(
    (data: unknown, context?: unknown) => {
      if (!inner(data, context)) {
        wrapped.errors = inner.errors
        return false
      }
      const name = typeof data === 'object' && data !== null ? nonFiniteProperty(data) : undefined
      wrapped.errors =
        name === undefined
          ? null
          : [
              {
                instancePath: `/${name}`,
                schemaPath: '',
                keyword: 'maximum',
                params: {},
                message: 'must be a finite number',
              },
            ]
      return name === undefined
    },
    // Fastify passes the parent object (needed for coercion in place) to validators that have it.
    { schemaEnv: inner.schemaEnv },
  )
  return wrapped as unknown as Validate
}

function nonFiniteProperty(data: object): string | undefined {
  for (const [name, value] of Object.entries(data)) {
    if (typeof value === 'number' && !Number.isFinite(value)) return name
  }
  return undefined
}
