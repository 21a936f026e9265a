// The end-to-end check of the cache's memory bound: an attacker with many
// addresses (each request claims its own X-Forwarded-For, which web trusts for
// this step) fills the cache at full speed with values that never expire,
// while a client checks, all the time, that every route answers, that a user
// changed is never read stale, and that its own rate limit still counts. Redis'
// memory is sampled meanwhile. Used by stack.e2e.ts.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closedLoop, type Outcome, type RequestSpec, send, showTally, tally } from './load.ts'

export interface CacheFillOptions {
  base: string
  /** Redis' maxmemory, in bytes. */
  maxmemoryBytes: number
  /** The RATE_LIMIT_MAX web runs with (per address and minute). */
  rateLimit: number
  /** Redis' INFO fields now (used_memory, evicted_keys, ...). */
  redisInfo: () => Promise<Record<string, string>>
  /** Headers every write needs (the API key). */
  writeHeaders: Record<string, string>
}

// What Redis may hold past maxmemory for a moment: it evicts before each
// write until it is under the bound (maxmemory-eviction-tenacity 100,
// deploy/compose/redis.sh), so one value in flight (CACHE_MAX_VALUE_BYTES,
// 64 KiB) and the buffers of the commands of one event-loop turn: at most a
// tenth of the bound.
const slackBytes = (maxmemoryBytes: number) => Math.max(2 * 1024 * 1024, maxmemoryBytes / 10)
const VALUE = 'x'.repeat(60_000)
const MAX_FILL_MS = 60_000

const address = () => `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`
const from = (ip: string) => ({ 'x-forwarded-for': ip })

/** Fills the cache to three times its bound; returns the figures to print. Throws on any failed check. */
export async function fillCache(options: CacheFillOptions): Promise<string[]> {
  const { base, maxmemoryBytes, rateLimit, redisInfo, writeHeaders } = options
  const run = randomBytes(4).toString('hex')
  const target = 3 * maxmemoryBytes
  const evictedBefore = Number((await redisInfo()).evicted_keys)

  const created = await send(base, {
    method: 'POST',
    path: '/users',
    headers: { ...writeHeaders, ...from(address()) },
    body: { username: `fill_${run}`, email: `fill_${run}@example.com` },
  })
  assert.equal(created.status, 201, created.body)
  const userId = (JSON.parse(created.body) as { id: number }).id

  let written = 0
  let done = false
  const t0 = Date.now()
  const memory: number[] = []
  const sampleMemory = async () => {
    while (!done) {
      memory.push(Number((await redisInfo()).used_memory))
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  // The client: every route, a user changed and read back, and one address's rate limit.
  const checks: Outcome[] = []
  let stale = 0
  const limited: number[] = []
  // From a range no other request of the step uses (the others: 198.18.0.0/16).
  const victim = '203.0.113.7'
  const watch = async () => {
    for (let round = 0; !done; round++) {
      for (const path of ['/', '/users?limit=5', `/users/${userId}`, '/health']) {
        checks.push(await send(base, { method: 'GET', path, headers: from(address()) }))
      }
      const department = `D${round}`
      const patched = await send(base, {
        method: 'PATCH',
        path: `/users/${userId}`,
        headers: { ...writeHeaders, ...from(address()) },
        body: { department },
      })
      checks.push(patched)
      const read = await send(base, { method: 'GET', path: `/users/${userId}`, headers: from(address()) })
      checks.push(read)
      if (read.status === 200 && (JSON.parse(read.body) as { department: string }).department !== department) stale++
    }
  }
  // One address's requests, spread over the fill: its counter lives through the evictions.
  const countOne = async () => {
    const total = rateLimit + 10
    for (let i = 1; i <= total; i++) {
      while (!done && written < (i / total) * target) await new Promise((resolve) => setTimeout(resolve, 10))
      limited.push((await send(base, { method: 'GET', path: '/', headers: from(victim) })).status)
    }
  }

  const attack = closedLoop({
    baseUrl: base,
    durationMs: MAX_FILL_MS,
    concurrency: 16,
    next: (i): RequestSpec => {
      written += VALUE.length
      if (written >= target) done = true
      return {
        method: 'POST',
        path: '/cache',
        headers: { ...writeHeaders, ...from(address()) },
        body: { key: `fill:${run}:${i}`, value: VALUE, ttl: 2_592_000 },
      }
    },
    until: () => done,
  })
  const [fill] = await Promise.all([attack, sampleMemory(), watch(), countOne()]).finally(() => {
    done = true
  })
  const elapsed = Date.now() - t0

  const after = await send(base, {
    method: 'POST',
    path: '/cache',
    headers: { ...writeHeaders, ...from(address()) },
    body: { key: `fill:${run}:after`, value: { after: true }, ttl: 60 },
  })
  const readBack = await send(base, { method: 'GET', path: `/cache/fill:${run}:after`, headers: from(address()) })
  const info = await redisInfo()
  const maxUsed = Math.max(...memory)
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
  const figures = [
    `cache fill: ${fill.outcomes.length} writes of 60 kB (${mb(written)}) from as many addresses in ${(elapsed / 1000).toFixed(1)} s: ` +
      `${showTally(tally(fill.outcomes.map((o) => o.status || o.error || 0)))}; Redis used at most ${mb(maxUsed)} ` +
      `of its ${mb(maxmemoryBytes)} (${memory.length} samples), ${Number(info.evicted_keys) - evictedBefore} keys evicted`,
    `during the fill: ${checks.length} reads and changes, ${showTally(tally(checks.map((o) => o.status || o.error || 0)))}; ` +
      `${stale} stale user reads; one address's first 429 at request ${limited.indexOf(429) + 1} of ${limited.length}`,
  ]

  assert.ok(written >= target, `the fill wrote ${mb(written)}, short of ${mb(target)} in ${MAX_FILL_MS} ms`)
  assert.ok(maxUsed <= maxmemoryBytes + slackBytes(maxmemoryBytes), `Redis stayed at its bound: ${figures[0]}`)
  const refused = fill.outcomes.filter((o) => o.status !== 201)
  assert.ok(
    refused.every((o) => o.status === 507),
    `every write stored or refused with 507: ${figures[0]}`,
  )
  assert.ok(
    checks.every((o) => o.status === 200),
    `every route answered: ${figures[1]}`,
  )
  assert.equal(stale, 0, `no stale read: ${figures[1]}`)
  assert.equal(after.status, 201, after.body)
  assert.equal(readBack.status, 200, `a value written after the fill is read back: ${readBack.body}`)
  assert.deepEqual((JSON.parse(readBack.body) as { value: unknown }).value, { after: true })
  assert.ok(limited.length > rateLimit, `the rate limit was tried past ${rateLimit} requests (${limited.length})`)
  assert.equal(limited.indexOf(429), rateLimit, `the rate limit still limits: ${figures[1]}`)
  assert.ok(
    limited.slice(rateLimit).every((status) => status === 429),
    'and every request after it',
  )
  return figures
}
