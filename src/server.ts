import closeWithGrace from 'close-with-grace'
import { type Config, ConfigError, loadConfig } from '../lib/config.ts'
import { buildServer } from './build.ts'

function configOrExit(): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(err.message)
    process.exit(1)
  }
}

const config = configOrExit()

const server = await buildServer(config)

// SIGTERM/SIGINT: stop accepting, finish in-flight requests, close the pool and
// the Redis client; exit 1 if that takes longer than SHUTDOWN_TIMEOUT_MS.
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: server.log }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'closing after an uncaught error')
  else server.log.info({ signal }, 'closing')
  await server.close()
})

try {
  await server.listen({ port: config.PORT, host: config.HOST })
} catch (err) {
  server.log.fatal({ err }, 'could not start listening')
  process.exit(1)
}
