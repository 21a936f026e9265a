// The constant-body ceiling (the one BENCHMARKS.md has had from the start): a
// bare Fastify server, configured like the app's (production, info-level request
// logs, to /dev/null), whose routes answer constant JSON bodies of the sizes the
// real endpoints answer.
// Usage: node scripts/bench/constant-body.ts <port> <name=bytes>...
import Fastify from 'fastify'

const [port, ...sizes] = process.argv.slice(2)
const app = Fastify({ logger: { level: 'info' } })

for (const spec of sizes) {
  const [name, bytes] = spec.split('=')
  // A JSON string of exactly `bytes` bytes: `{"pad":"xxx…"}`.
  const body = JSON.stringify({ pad: 'x'.repeat(Math.max(Number(bytes) - 10, 0)) })
  app.get(`/ceiling/${name}`, (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8').send(body)
  })
}

await app.listen({ port: Number(port), host: '127.0.0.1' })
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
