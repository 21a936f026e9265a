import { ConfigError, loadConfig } from '../lib/config.ts'
import { postgresConnection } from '../lib/connections.ts'
import { migrate } from '../lib/migrations.ts'

// `npm run migrate`: applies pending migrations and exits (0 on success).
try {
  const applied = await migrate(postgresConnection(loadConfig()), console)
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date')
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`)
  process.exitCode = 1
}
