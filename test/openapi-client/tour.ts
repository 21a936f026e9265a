// The README's curl tour, through a client generated from /docs/json:
// openapi-typescript's types (test-output/openapi-client/api.ts, written by
// test/openapi-client.test.ts) and openapi-fetch. Type-checked by that test
// against the generated file; a change to the document that breaks a client
// breaks this file.
import createClient from 'openapi-fetch'
import type { components, paths } from '../../test-output/openapi-client/api.ts'

type User = components['schemas']['User']
type ErrorResponse = components['schemas']['ErrorResponse']

/** Each answer's status, and its body typed as the document says. */
export async function tour(baseUrl: string) {
  const client = createClient<paths>({ baseUrl })

  const info = await client.GET('/')
  const users = await client.GET('/users')
  const page = await client.GET('/users', { params: { query: { department: 'Design', limit: 1, offset: 1 } } })

  const created = await client.POST('/users', {
    body: { username: 'nsouza', email: 'nina.souza@empresa.com', full_name: 'Nina Souza' },
  })
  const id = created.data?.id ?? 0
  const read = await client.GET('/users/{id}', { params: { path: { id } } })
  const patched = await client.PATCH('/users/{id}', { params: { path: { id } }, body: { department: 'QA' } })
  const deleted = await client.DELETE('/users/{id}', { params: { path: { id } } })
  const gone = await client.GET('/users/{id}', { params: { path: { id } } })

  // The write with an Idempotency-Key, sent twice: the retry gets the first answer again.
  const write = {
    params: { header: { 'idempotency-key': `"${crypto.randomUUID()}"` } },
    body: { key: 'user:1', value: { name: 'João' }, ttl: 300 },
  }
  const stored = await client.POST('/cache', write)
  const retried = await client.POST('/cache', write)
  const cached = await client.GET('/cache/{key}', { params: { path: { key: 'user:1' } } })
  const health = await client.GET('/health')

  const user: User | undefined = read.data
  const notFound: ErrorResponse | undefined = gone.error
  return {
    info: { status: info.response.status, service: info.data?.service, users: info.data?.endpoints.users },
    users: { status: users.response.status, total: users.data?.total, count: users.data?.users.length },
    page: { status: page.response.status, limit: page.data?.limit, offset: page.data?.offset, users: page.data?.users },
    created: {
      status: created.response.status,
      location: created.response.headers.get('location'),
      user: created.data,
    },
    read: { status: read.response.status, cache: read.response.headers.get('x-cache'), user },
    patched: { status: patched.response.status, department: patched.data?.department },
    deleted: { status: deleted.response.status },
    gone: { status: gone.response.status, code: notFound?.code },
    stored: { status: stored.response.status, body: stored.data },
    retried: {
      status: retried.response.status,
      replayed: retried.response.headers.get('idempotent-replayed'),
      body: retried.data,
    },
    cached: { status: cached.response.status, value: cached.data?.value, ttl: cached.data?.ttl },
    health: { status: health.response.status, report: health.data },
  }
}
