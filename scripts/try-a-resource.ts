// `npm run try:resource`: adds the example resource of docs/adding-a-resource.md
// to a copy of the project (the files git knows, as they are now) and runs
// `npm run format`, `npm run lint` and `npm test` there. Each code block of that
// page whose info string names a file is written to it; a block with
// `after="<line>"` goes into an existing file after that line (its imports at
// the top). Fails when a block's file exists already, or an anchor is missing.
// `--keep` leaves the copy in place.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const GUIDE = 'docs/adding-a-resource.md'

interface Block {
  file: string
  after?: string
  text: string
}

function blocks(markdown: string): Block[] {
  const found: Block[] = []
  for (const [, file, after, text] of markdown.matchAll(/^```\w+ ([\w./-]+)(?: after="([^"]+)")?\n([\s\S]*?)^```$/gm)) {
    found.push({ file, after, text })
  }
  return found
}

function insert(source: string, { after, text, file }: Block): string {
  const lines = source.split('\n')
  const at = lines.findIndex((line) => line.trim() === after)
  if (at < 0) throw new Error(`${file}: no line "${after}"`)
  const added = text.trimEnd().split('\n')
  const imports = added.filter((line) => line.startsWith('import '))
  const indent = lines[at].match(/^\s*/)?.[0] ?? ''
  const body = added.filter((line) => !line.startsWith('import ')).map((line) => indent + line)
  lines.splice(at + 1, 0, ...body)
  return [...imports, ...lines].join('\n')
}

const copy = mkdtempSync(join(tmpdir(), 'desafio3-resource-'))
const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
}).split('\0')
for (const file of tracked.filter((name) => name && existsSync(join(root, name)))) {
  mkdirSync(dirname(join(copy, file)), { recursive: true })
  cpSync(join(root, file), join(copy, file))
}
symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'))
// A repository of its own, so that git (and Biome, which reads .gitignore) sees what the example changed.
const git = (...args: string[]) => execFileSync('git', args, { cwd: copy, encoding: 'utf8' })
git('init', '--quiet')
git('add', '--all')
git('-c', 'user.name=try-a-resource', '-c', 'user.email=try@localhost', 'commit', '--quiet', '-m', 'the project')

const touched = new Set<string>()
for (const block of blocks(readFileSync(join(root, GUIDE), 'utf8'))) {
  const target = join(copy, block.file)
  if (block.after === undefined) {
    if (existsSync(target)) throw new Error(`${block.file} exists already: the example must add it`)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, block.text)
  } else {
    writeFileSync(target, insert(readFileSync(target, 'utf8'), block))
  }
  touched.add(block.file)
}
git('add', '--all')
console.log(`${GUIDE}: ${touched.size} files touched in ${copy}:\n${git('status', '--short')}`)

let status = 0
for (const script of ['format', 'lint', 'test']) {
  console.log(`\n::: npm run ${script} (with the example resource)`)
  status = spawnSync('npm', ['run', script], { cwd: copy, stdio: 'inherit' }).status ?? 1
  if (status !== 0) break
}
if (process.argv.includes('--keep')) console.log(`kept ${copy}`)
else rmSync(copy, { recursive: true, force: true })
process.exit(status)
