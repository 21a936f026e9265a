// The house reads top-down (docs/design.md): src -> routes -> plugins -> lib.
// Every relative import of the app's code is checked here: none runs back up,
// routes never import each other, plugins never import each other, and no two
// modules import each other.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FLOORS = ['src', 'routes', 'plugins', 'lib'] as const

function files(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name))
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map(([, specifier]) => specifier)
  return specifiers.map((specifier) => normalize(join(dirname(file), specifier)))
}

const floorOf = (file: string) => FLOORS.indexOf(file.split('/')[0] as (typeof FLOORS)[number])
const modules = FLOORS.flatMap(files)
const edges = modules.flatMap((from) => importsOf(from).map((to) => ({ from, to })))

t.test('the app has modules on every floor, and imports between them', async (t) => {
  for (const floor of FLOORS)
    t.ok(
      modules.some((file) => file.startsWith(`${floor}/`)),
      floor,
    )
  t.ok(edges.length > 30, `${edges.length} imports`)
})

t.test('no import runs back up a floor', async (t) => {
  const upward = edges.filter(({ from, to }) => floorOf(to) < floorOf(from))
  t.same(upward, [], 'lib imports only lib; plugins only lib; routes only plugins and lib')
})

t.test('routes never import routes; plugins never import plugins', async (t) => {
  const sideways = edges.filter(
    ({ from, to }) => ['routes', 'plugins'].includes(from.split('/')[0]) && from.split('/')[0] === to.split('/')[0],
  )
  t.same(sideways, [])
})

t.test('no circle of imports', async (t) => {
  const next = new Map<string, string[]>()
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to])
  const circles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].map((name) => relative('.', name)).join(' -> '))
      return
    }
    state.set(file, 'open')
    for (const to of next.get(file) ?? []) visit(to, [...path, file])
    state.set(file, 'done')
  }
  for (const file of modules) visit(file, [])
  t.same(circles, [])
})
