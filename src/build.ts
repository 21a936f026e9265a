import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import app, { type AppOptions } from './app.ts'
import type { Config } from './config.ts'

// Longest encoded :key a URL can carry: 512 characters of up to 4 UTF-8 bytes,
// each byte percent-encoded as 3 characters.
const MAX_PARAM_LENGTH = 512 * 4 * 3

export function serverOptions(config: Config): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password'], censor: '[redacted]' },
    },
    bodyLimit: config.BODY_LIMIT,
    // A field the schema does not know is a 400, not silently dropped: a typo
    // such as `fullname` must not look like a successful write.
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  }
}

/** The server the process runs and the tests use: Fastify options plus the app. */
export async function buildServer(
  config: Config,
  overrides: FastifyServerOptions = {},
  testHooks: AppOptions['testHooks'] = {},
) {
  const server = Fastify({ ...serverOptions(config), ...overrides }).withTypeProvider<TypeBoxTypeProvider>()
  await server.register(fp(app), { config, testHooks })
  return server
}
