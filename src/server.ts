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

/**
 * Starts the server with `config`: listening on HOST:PORT, and on SIGTERM or
 * SIGINT it stops accepting, finishes the requests in flight and closes the
 * pool and the Redis client; exit 1 if that takes longer than SHUTDOWN_TIMEOUT_MS.
 */
export async function serve(config: Config): Promise<void> {
  const server = await buildServer(config)
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
}

if (import.meta.main) await serve(configOrExit())
