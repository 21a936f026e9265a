import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, LOG_LEVELS, logCollector } from './helpers/app.ts'

// Overload: while the event loop lags past the threshold, requests get an
// immediate 503 with Retry-After instead of queueing; probes and the metrics
// scrape are still answered; when the lag ends, so does the shedding.

const SAMPLE_MS = 100
const SHEDDING = {
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '40',
  OVERLOAD_SAMPLE_INTERVAL_MS: String(SAMPLE_MS),
  OVERLOAD_RETRY_AFTER_SECONDS: '3',
}

/** Keeps the event loop lagging: each turn spins `spinMs` before letting the loop go on, until stopped. */
function lagEventLoop(spinMs: number) {
  let running = true
  const turn = () => {
    if (!running) return
    const until = performance.now() + spinMs
    while (performance.now() < until) {
      // busy: the loop cannot run anything else
    }
    setImmediate(turn)
  }
  setImmediate(turn)
  return () => {
    running = false
  }
}

/** Waits until `check` holds, checking every sample; fails after `ms`. */
async function until(check: () => Promise<boolean>, ms: number) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(SAMPLE_MS / 2)) {
    if (await check()) return true
  }
  return false
}

t.test('a lagging event loop sheds requests with 503 + Retry-After; probes and /metrics still answer', async (t) => {
  const logs = logCollector()
  const app = await build(t, SHEDDING, { logs })
  await sleep(3 * SAMPLE_MS) // past the warm-up after ready
  t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200, 'served before the lag')

  const stop = lagEventLoop(80)
  t.teardown(stop)
  const shedding = await until(async () => (await app.inject({ method: 'GET', url: '/' })).statusCode === 503, 3000)
  t.ok(shedding, 'shedding within a few samples of the lag')

  const shed = await app.inject({ method: 'GET', url: '/users' })
  t.equal(shed.statusCode, 503)
  t.equal(shed.headers['retry-after'], '3', 'Retry-After: OVERLOAD_RETRY_AFTER_SECONDS')
  t.match(shed.headers['content-type'], /^application\/json/)
  t.same(shed.json(), {
    statusCode: 503,
    code: 'OVERLOADED',
    error: 'Service Unavailable',
    message: 'Server overloaded, retry in 3 seconds',
  })
  t.ok(shed.headers['x-request-id'], 'with its request id')
  t.equal(shed.headers['cache-control'], 'no-store', 'and the API headers')
  const write = await app.inject({ method: 'POST', url: '/cache', payload: { key: 'k', value: 1 } })
  t.equal(write.statusCode, 503, 'writes are shed too, before anything is stored')
  for (const url of ['/health/live', '/metrics']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} is answered`)
  }
  for (const url of ['/health', '/health/ready']) {
    // A dependency check may fail on a lagging loop (503 degraded): that is a report, not shedding.
    const res = await app.inject({ method: 'GET', url })
    t.not(res.headers['retry-after'], '3', `${url} is not shed`)
    t.match(res.json(), { status: /^(healthy|degraded)$/ }, `${url} reports (${res.statusCode})`)
  }
  stop()

  t.ok(
    await until(async () => (await app.inject({ method: 'GET', url: '/' })).statusCode === 200, 3000),
    'served again once the lag is over',
  )
  const warnings = logs.lines.filter((line) => line.msg === 'overloaded: shedding requests with 503')
  t.ok(warnings.length >= 1, 'the log says it sheds')
  t.ok(warnings.length <= 20, `at most once per sample, not once per request (${warnings.length})`)
  t.match(warnings[0], { level: LOG_LEVELS.warn, type: 'eventLoopDelay', shed: Number })
  // The mean delay in ms; null (Infinity) when the loop was blocked for a whole sample.
  t.ok(warnings[0] && (warnings[0].value === null || typeof warnings[0].value === 'number'), 'with the delay')
  t.notOk(
    logs.lines.some((line) => line.msg === 'request failed' && line.statusCode === 503),
    'no error line per shed request',
  )
})

t.test('event-loop utilisation can be the threshold instead', async (t) => {
  const app = await build(t, {
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.9',
    OVERLOAD_SAMPLE_INTERVAL_MS: String(SAMPLE_MS),
  })
  await sleep(3 * SAMPLE_MS)
  t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200)
  const stop = lagEventLoop(20)
  t.teardown(stop)
  t.ok(await until(async () => (await app.inject({ method: 'GET', url: '/' })).statusCode === 503, 3000), 'shed')
  stop()
  t.ok(
    await until(async () => (await app.inject({ method: 'GET', url: '/' })).statusCode === 200, 3000),
    'served again',
  )
})

t.test('a start that kept the event loop busy does not shed the first requests', async (t) => {
  const stop = lagEventLoop(80)
  const building = build(t, SHEDDING)
  await sleep(5 * SAMPLE_MS)
  stop()
  const app = await building
  t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200, 'the first request after ready is served')
})

t.test('with both thresholds at 0 nothing is shed, however the loop lags', async (t) => {
  const app = await build(t, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_SAMPLE_INTERVAL_MS: String(SAMPLE_MS) })
  const stop = lagEventLoop(80)
  t.teardown(stop)
  await sleep(5 * SAMPLE_MS)
  t.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200)
  stop()
})
