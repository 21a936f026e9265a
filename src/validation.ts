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
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route))
}
