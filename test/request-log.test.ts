import t from 'tap'
import { build, type LogLine, logCollector } from './helpers/app.ts'

const linesOf = (lines: LogLine[], requestId: string) => lines.filter((line) => line.requestId === requestId)

t.test('a request logs one line, when it completes: method, url, client, status, time and id', async (t) => {
  const logs = logCollector()
  const app = await build(t, {}, { logs })
  const res = await app.inject({ method: 'GET', url: '/users?limit=2', headers: { 'x-request-id': 'one-line-1' } })
  t.equal(res.statusCode, 200)
  const lines = linesOf(logs.lines, 'one-line-1')
  t.equal(lines.length, 1, 'one line, not one on arrival and one at the end')
  t.match(lines[0], {
    level: 30,
    msg: 'request completed',
    requestId: 'one-line-1',
    req: { method: 'GET', url: '/users?limit=2', remoteAddress: '127.0.0.1' },
    res: { statusCode: 200 },
    responseTime: Number,
  })
})

t.test('a 404 and a rejected request each log their completion; the rejection adds its reason', async (t) => {
  const logs = logCollector()
  const app = await build(t, {}, { logs })
  await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'one-line-2' } })
  t.match(linesOf(logs.lines, 'one-line-2'), [{ msg: 'request completed', res: { statusCode: 404 } }])
  await app.inject({ method: 'GET', url: '/users/0', headers: { 'x-request-id': 'one-line-3' } })
  t.match(linesOf(logs.lines, 'one-line-3'), [
    { msg: 'request rejected', err: { message: /params\/id/ } },
    { msg: 'request completed', res: { statusCode: 400 } },
  ])
})

t.test('probes and scrapes log no request line', async (t) => {
  const logs = logCollector()
  const app = await build(t, {}, { logs })
  for (const url of ['/health/live', '/metrics']) {
    const res = await app.inject({ method: 'GET', url, headers: { 'x-request-id': `probe-${url.length}` } })
    t.equal(res.statusCode, 200, url)
    t.same(linesOf(logs.lines, `probe-${url.length}`), [], url)
  }
})
