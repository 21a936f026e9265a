import fc from 'fast-check'
import t from 'tap'
import { canonicalJson } from '../lib/canonical-json.ts'

/** The same value with every object's keys in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reordered(inner)]),
  )
}

t.test('one text per JSON value: whatever the order of its keys, and it parses back to the value', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value)
      t.equal(canonicalJson(reordered(value)), text)
      t.equal(canonicalJson(JSON.parse(JSON.stringify(value, null, 2))), text, 'spacing')
      t.same(JSON.parse(text), value)
    }),
    { numRuns: 300 },
  )
})

t.test('different values, different texts', async (t) => {
  const values = [null, 0, '0', false, [], {}, [null], { a: null }, { a: 1 }, { a: '1' }, { b: 1 }, [1, 2], [2, 1]]
  const texts = new Set(values.map(canonicalJson))
  t.equal(texts.size, values.length)
  t.equal(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"e":2,"f":1}]},"b":1}')
})
