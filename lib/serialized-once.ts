const texts = new WeakMap<object, string>()

/**
 * `serialize(value)`, made once for every answer that sends this same object:
 * the requests whose read was shared (oncePerTurn) send one page, so it is
 * serialized for the first and its text reused by the others. Kept only as
 * long as the object is.
 */
export function serializedOnce(value: object, serialize: (value: object) => string): string {
  let text = texts.get(value)
  if (text === undefined) {
    text = serialize(value)
    texts.set(value, text)
  }
  return text
}
