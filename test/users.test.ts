import t from 'tap'
import { build, freePort } from './helpers/app.ts'

// The original init.sql's users, in its order.
const SEED_USERS = [
  ['jsilva', 'joao.silva@empresa.com', 'João Silva', 'Desenvolvimento'],
  ['mco\u0441\u0442\u0430', 'maria.costa@empresa.com', 'Maria Costa', 'Design'],
  ['psantos', 'pedro.santos@empresa.com', 'Pedro Santos', 'DevOps'],
  ['aolive', 'ana.oliveira@empresa.com', 'Ana Oliveira', 'QA'],
  ['rlima', 'ricardo.lima@empresa.com', 'Ricardo Lima', 'Desenvolvimento'],
  ['cferr', 'carla.ferreira@empresa.com', 'Carla Ferreira', 'Produto'],
  ['lmartins', 'lucas.martins@empresa.com', 'Lucas Martins', 'Segurança'],
  ['jrodrig', 'julia.rodrigues@empresa.com', 'Julia Rodrigues', 'Design'],
  ['falves', 'felipe.alves@empresa.com', 'Felipe Alves', 'DevOps'],
  ['bcarvalho', 'beatriz.carvalho@empresa.com', 'Beatriz Carvalho', 'Desenvolvimento'],
]

t.test('GET /users lists the 10 seed users in id order with the original fields', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/users' })
  t.equal(res.statusCode, 200)
  const { total, users } = res.json()
  t.equal(total, 10)
  t.same(
    users.map((u: Record<string, unknown>) => [u.username, u.email, u.full_name, u.department]),
    SEED_USERS,
  )
  t.same(
    users.map((u: { id: number }) => u.id),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  )
  for (const user of users) {
    t.same(Object.keys(user).sort(), ['created_at', 'department', 'email', 'full_name', 'id', 'username'])
    t.match(user.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/, 'ISO 8601, like the original')
  }
})

t.test('the second seed username keeps its Cyrillic bytes', async (t) => {
  const app = await build(t)
  const { users } = (await app.inject({ method: 'GET', url: '/users' })).json()
  t.equal(Buffer.from(users[1].username, 'utf8').toString('hex'), '6d636fd181d182d0b0')
})

t.test('GET /users is a 503 JSON error, quickly, when Postgres is unreachable', async (t) => {
  const port = await freePort()
  const app = await build(t, { DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/desafio3` })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/users' })
  t.ok(Date.now() - started < 2000, 'answers within 2 s')
  t.equal(res.statusCode, 503)
  t.same(res.json(), {
    statusCode: 503,
    code: 'DB_UNAVAILABLE',
    error: 'Service Unavailable',
    message: 'Database unavailable, try again later',
  })
  t.notMatch(res.body, /127\.0\.0\.1|ECONNREFUSED/, 'no internals in the response')
})
