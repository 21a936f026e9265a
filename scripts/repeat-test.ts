// `node scripts/repeat-test.ts 50 test/shutdown.test.ts`: runs one test file N
// times in a row against one Postgres and one Redis (started once, as `npm test`
// does, or DATABASE_URL and REDIS_URL), prints one line per run (its exit code
// and the `# ` comments that hold figures, such as the shutdown test's tally),
// then how many runs failed. For a flaky test: "0 failed in 50" is the evidence.
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { removeTestRunContainers, startTestServices } from '../test/helpers/containers.ts'

const [runsArgument, file] = process.argv.slice(2)
const runs = Number(runsArgument)
if (!Number.isInteger(runs) || runs < 1 || !file) {
  console.error('usage: node scripts/repeat-test.ts <runs> <test file>')
  process.exit(2)
}

const run = randomUUID()
// The containers started here carry the run's label (test/helpers/containers.ts reads it), so they are removed at the end.
process.env.DESAFIO3_TEST_RUN = run
const env: NodeJS.ProcessEnv = { ...process.env }
await startTestServices(env)

let failed = 0
for (let i = 1; i <= runs; i++) {
  const startedAt = Date.now()
  const result = spawnSync(
    process.execPath,
    ['node_modules/tap/dist/esm/run.mjs', '--disable-coverage', '--reporter=tap', file],
    { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
  if (result.status !== 0) failed++
  const figures = `${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^# (?!Subtest|time=|\{|No coverage)/.test(line))
    .map((line) => line.slice(2))
  console.log(`run ${i}: exit ${result.status} in ${Date.now() - startedAt} ms; ${figures.join('; ')}`)
}
console.log(`${runs - failed} passed, ${failed} failed`)
await removeTestRunContainers(run)
process.exit(failed === 0 ? 0 : 1)
