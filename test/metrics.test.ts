import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build, freePort, type Server } from './helpers/app.ts'

/** The samples of /metrics as `name{labels}` → value. */
async function scrape(app: Server): Promise<Map<string, number>> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  const samples = new Map<string, number>()
  for (const line of res.body.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const cut = line.lastIndexOf(' ')
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)))
  }
  return samples
}

function seriesOf(samples: Map<string, number>, prefix: string): string[] {
  return [...samples.keys()].filter((key) => key.startsWith(prefix))
}

t.test('/metrics serves the Prometheus text format, with process and Node.js metrics', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(res.body, /^# HELP /m)
  const samples = await scrape(app)
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
    'nodejs_active_handles_total',
  ]) {
    t.ok(samples.has(name), name)
  }
})

t.test('requests are counted and timed per route pattern, not per URL', async (t) => {
  const app = await build(t)
  await app.inject({ method: 'POST', url: '/cache', payload: { key: 'a', value: 1 } })
  for (const key of ['a', 'b', 'c']) await app.inject({ method: 'GET', url: `/cache/${key}` })
  await app.inject({ method: 'GET', url: '/users' })
  await app.inject({ method: 'GET', url: '/no/such/route' })

  const samples = await scrape(app)
  const histogram = 'http_request_duration_seconds'
  t.equal(samples.get(`${histogram}_count{method="GET",route="/cache/:key",status_code="200"}`), 1, 'one hit')
  t.equal(samples.get(`${histogram}_count{method="GET",route="/cache/:key",status_code="404"}`), 2, 'two misses')
  t.equal(samples.get(`${histogram}_count{method="POST",route="/cache",status_code="201"}`), 1)
  t.equal(samples.get(`${histogram}_count{method="GET",route="/users",status_code="200"}`), 1)
  t.ok(
    samples.has(`${histogram}_bucket{le="0.005",method="GET",route="/users",status_code="200"}`),
    'with fine buckets (5 ms)',
  )
  t.ok(samples.has(`${histogram}_bucket{le="+Inf",method="GET",route="/users",status_code="200"}`))
  const routes = new Set(seriesOf(samples, `${histogram}_count`).map((key) => /route="([^"]*)"/.exec(key)?.[1]))
  t.same([...routes].sort(), ['/cache', '/cache/:key', '/users'], 'no raw URL, no unknown route, no /metrics')
  t.notMatch((await app.inject({ method: 'GET', url: '/metrics' })).body, /summary_seconds/, 'a histogram only')
})

t.test('the Postgres pool and the Redis client are reported at each scrape', async (t) => {
  const app = await build(t, { DB_POOL_MAX: '7' })
  await app.inject({ method: 'GET', url: '/users' })
  const samples = await scrape(app)
  t.equal(samples.get('pg_pool_max_connections'), 7)
  t.equal(samples.get('pg_pool_connections'), app.pg.pool.totalCount)
  t.ok(app.pg.pool.totalCount >= 1, 'the query left a connection open')
  t.equal(samples.get('pg_pool_idle_connections'), app.pg.pool.idleCount)
  t.equal(samples.get('pg_pool_waiting_queries'), 0)
  t.equal(samples.get('redis_client_ready'), 1)
})

t.test('redis_client_ready is 0 while Redis is unreachable, and /metrics still answers', async (t) => {
  const port = await freePort()
  const app = await build(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
  const samples = await scrape(app)
  t.equal(samples.get('redis_client_ready'), 0)
})

t.test('each app has its own registry: two apps in one process count apart', async (t) => {
  const [one, two] = await Promise.all([build(t), build(t)])
  for (let i = 0; i < 3; i++) await one.inject({ method: 'GET', url: '/' })
  await two.inject({ method: 'GET', url: '/' })
  const key = 'http_request_duration_seconds_count{method="GET",route="/",status_code="200"}'
  t.equal((await scrape(one)).get(key), 3)
  t.equal((await scrape(two)).get(key), 1)
})

t.test('/metrics is not rate limited', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '1' })
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, `scrape ${i + 1}`)
  }
})

t.test('with METRICS_PORT, /metrics is served on that port only; the public port answers 404', async (t) => {
  const metricsPort = await freePort()
  const app = await build(t, { METRICS_PORT: String(metricsPort), HOST: '127.0.0.1' })
  const publicUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  await fetch(`${publicUrl}/cache/absent`)

  const onPublic = await fetch(`${publicUrl}/metrics`)
  t.equal(onPublic.status, 404, 'not on the public port')
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)

  const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  t.equal(scraped.status, 200, 'on METRICS_PORT')
  t.match(scraped.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await scraped.text()
  t.match(text, /^process_cpu_seconds_total /m, 'process metrics')
  t.match(text, /^pg_pool_max_connections 10$/m, 'the pool gauges')
  t.match(
    text,
    /^http_request_duration_seconds_count\{method="GET",route="\/cache\/:key",status_code="404"\} 1$/m,
    'the requests to the public port',
  )
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/`)).status, 404, 'nothing else on that port')
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status, 404)

  await app.close()
  await t.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'the metrics port closes with the app')
})

t.test('a METRICS_PORT already taken stops the start', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const { port } = taken.address() as AddressInfo
  await t.rejects(build(t, { METRICS_PORT: String(port), HOST: '127.0.0.1' }), { code: 'EADDRINUSE' })
})
