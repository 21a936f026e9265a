// The server as src/server.ts starts it, with a test's constants (shorter
// bounds, a key prefix of its own), given as JSON in the first argument.
import { loadConfig } from '../../lib/config.ts'
import { serve } from '../../src/server.ts'

await serve(loadConfig(process.env, JSON.parse(process.argv[2] ?? '{}')))
