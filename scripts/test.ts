// `npm test`: runs the tap suite against one Postgres and one Redis shared by
// every test file (each file still gets its own database and key prefix).
// With DATABASE_URL and REDIS_URL set, those servers are used and no container
// starts. Extra arguments go to tap: `npm test -- test/cache.test.ts`.
// Every container the run starts (here or in a test) is labelled with the run's
// id and removed at the end, also those of a test file killed on timeout.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { POSTGRES_IMAGE, REDIS_IMAGE, removeTestRunContainers, startTestServices } from '../test/helpers/containers.ts'

const run = randomUUID()
process.env.DESAFIO3_TEST_RUN = run
// Every test file is a process of its own that loads the app's modules again:
// Node's compile cache keeps their compiled code between processes and runs
// (a third less CPU to import the app).
const env: NodeJS.ProcessEnv = { NODE_COMPILE_CACHE: 'node_modules/.cache/node-compile', ...process.env }

const startedAt = Date.now()
if (await startTestServices(env)) {
  console.log(`test services up in ${Date.now() - startedAt} ms (${POSTGRES_IMAGE}, ${REDIS_IMAGE})`)
}

const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...process.argv.slice(2)], {
  env,
  stdio: 'inherit',
})
// Ctrl-C reaches tap through the terminal; wait for it, then clean up.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => tap.kill(signal))
const exitCode = await new Promise<number>((resolve) => tap.on('exit', (code) => resolve(code ?? 1)))
const removed = await removeTestRunContainers(run)
console.log(`removed the run's ${removed} test container(s)`)
process.exit(exitCode)
