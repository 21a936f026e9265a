// BENCHMARKS.md: parts under their headings (the bench's table first, then
// `## Data scale`, `## Feature costs`, the costs of an older version measured by this bench for
// comparison, and `## Memory`); each kind of run rewrites its own part and
// keeps the others.
import { readFileSync, writeFileSync } from 'node:fs'

const PARTS = ['# Benchmarks', '## Data scale', '## Feature costs', '## Feature costs before', '## Memory'] as const
export type Part = (typeof PARTS)[number]

/** A Markdown table with aligned columns (as the formatter writes it): text left, numbers (and their titles) right. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(3, title.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`
  const rule = `| ${widths.map((width, i) => (i === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

function readParts(file: string): Map<Part, string> {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {}
  const parts = new Map<Part, string>()
  const starts = PARTS.map((heading) => ({ heading, at: text.search(new RegExp(`^${heading}$`, 'm')) }))
    .filter(({ at }) => at >= 0)
    .sort((a, b) => a.at - b.at)
  for (const [i, { heading, at }] of starts.entries()) {
    const body = text.slice(at + heading.length, starts[i + 1]?.at ?? text.length).trim()
    parts.set(heading, body)
  }
  return parts
}

/** Rewrites `part` of the report (its text below the heading) and keeps the other parts. */
export function writePart(file: string, part: Part, body: string) {
  const parts = readParts(file)
  parts.set(part, body.trim())
  const text = PARTS.filter((heading) => parts.get(heading))
    .map((heading) => `${heading}\n\n${parts.get(heading)}`)
    .join('\n\n')
  writeFileSync(file, `${text}\n`)
}
