/**
 * JSON text of a parsed JSON value in one spelling only: object keys sorted
 * (by UTF-16 code units), no whitespace, strings and numbers as
 * JSON.stringify writes them. Two bodies that parse to the same value (keys
 * in another order, other spacing, `1.0` for `1`, `\u00e9` for `é`) get the
 * same text. Recursive: callers bound the depth (plugins/app/json-depth.ts).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>
    const entries = Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
