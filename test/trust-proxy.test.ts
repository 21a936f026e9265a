import t from 'tap'
import { build, LOG_LEVELS, logCollector, type Server } from './helpers/app.ts'

// TRUST_PROXY decides whose X-Forwarded-For sets the client address: the
// rate-limit key and the log's remoteAddress. A client that reaches the server
// directly must not pick its own budget by sending the header.

const PROXY = '10.1.2.3'

async function get(app: Server, remoteAddress: string, forwardedFor?: string) {
  const res = await app.inject({
    method: 'GET',
    url: '/',
    remoteAddress,
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  })
  return res
}

for (const { name, env, budget } of [
  {
    name: 'off (the default): a spoofed X-Forwarded-For does not change the rate-limit key',
    env: {},
    budget: 'one budget: the peer address',
  },
  {
    name: 'from a peer that is not a trusted proxy, X-Forwarded-For is ignored',
    env: { TRUST_PROXY: `${PROXY},192.168.0.0/16` },
    budget: 'the untrusted peer keeps one budget however it spoofs',
  },
]) {
  t.test(name, async (t) => {
    const app = await build(t, { RATE_LIMIT_MAX: '2', ...env })
    const statuses = []
    for (const spoofed of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      statuses.push((await get(app, '203.0.113.7', spoofed)).statusCode)
    }
    t.same(statuses, [200, 200, 429], budget)
  })
}

t.test('from a trusted proxy, each client behind it has its own budget', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '2', TRUST_PROXY: `${PROXY},192.168.0.0/16` })
  for (const proxy of [PROXY, '192.168.7.9']) {
    const client = proxy === PROXY ? '198.51.100.10' : '198.51.100.20'
    t.same(
      [await get(app, proxy, client), await get(app, proxy, client), await get(app, proxy, client)].map(
        (res) => res.statusCode,
      ),
      [200, 200, 429],
      `${client} through ${proxy}: its own budget`,
    )
  }
  t.equal((await get(app, PROXY, '198.51.100.11')).statusCode, 200, 'another client through the same proxy')
  // A client that prepends a forged address: the proxy appends the real one,
  // which is what counts.
  t.equal((await get(app, PROXY, '198.51.100.10, 198.51.100.12')).statusCode, 200, 'the proxy-appended address counts')
  t.equal((await get(app, PROXY, '198.51.100.12, 198.51.100.10')).statusCode, 429, 'not the forged one')
})

t.test('the log has the client address the trusted proxy reports', async (t) => {
  const logs = logCollector()
  const app = await build(t, { TRUST_PROXY: PROXY }, { logs })
  await get(app, PROXY, '198.51.100.30')
  await get(app, '203.0.113.8', '198.51.100.31')
  const addresses = logs.lines
    .filter((line) => line.msg === 'request completed' && line.level === LOG_LEVELS.info)
    .map((line) => (line.req as { remoteAddress: string }).remoteAddress)
  t.same(addresses, ['198.51.100.30', '203.0.113.8'], 'the forwarded client, then the untrusted peer itself')
})

t.test('a hop count trusts the nearest hops, whoever they are', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' })
  t.equal((await get(app, '203.0.113.9', '198.51.100.40')).statusCode, 200)
  t.equal((await get(app, '203.0.113.9', '198.51.100.41')).statusCode, 200, 'one hop: the forwarded address is the key')
  t.equal((await get(app, '203.0.113.9', '198.51.100.41')).statusCode, 429)
})
