// The app as `npm start` runs it (dist/src/server.js), with constants of the
// bench's own, given as JSON in the first argument: the two apps of the
// data-scale run share one Redis, each under a key prefix of its own.
import { fileURLToPath } from 'node:url'

const built = (path: string) => import(fileURLToPath(new URL(`../../dist/${path}`, import.meta.url)))
const [{ loadConfig }, { serve }] = await Promise.all([built('lib/config.js'), built('src/server.js')])
await serve(loadConfig(process.env, JSON.parse(process.argv[2] ?? '{}')))
