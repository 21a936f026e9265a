/** The OpenAPI security scheme of the API keys (API_KEYS): `Authorization: Bearer <key>`. */
export const API_KEY_SCHEME = 'apiKey'

export const SECURITY_SCHEMES = {
  [API_KEY_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key, sent as `Authorization: Bearer <key>`. Writes need one when the server has `API_KEYS` set; ' +
      'reads never do.',
  },
} as const

/**
 * The `security` of an operation that writes. A route whose schema declares it
 * gets the API key check (plugins/external/api-keys.ts): the document and the
 * enforcement come from this one declaration.
 */
export const API_KEY_REQUIRED = [{ [API_KEY_SCHEME]: [] }]
