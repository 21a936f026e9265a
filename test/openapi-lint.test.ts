// The OpenAPI document passes Spectral's `spectral:oas` ruleset (its recommended
// rules, as `extends: spectral:oas` in a .spectral.yaml) with no problem at all:
// no error, warning, info or hint.
import { Spectral } from '@stoplight/spectral-core'
import { oas } from '@stoplight/spectral-rulesets'
import t from 'tap'
import { build } from './helpers/app.ts'

const SEVERITY = ['error', 'warning', 'info', 'hint']

t.test("/docs/json has no problem under Spectral's spectral:oas ruleset", async (t) => {
  const app = await build(t)
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()

  const spectral = new Spectral()
  spectral.setRuleset({ extends: [[oas, 'recommended']] } as Parameters<Spectral['setRuleset']>[0])
  const problems = await spectral.run(JSON.stringify(document, null, 2))
  const report = problems.map(
    ({ code, severity, message, path }) => `${SEVERITY[severity]} ${code} at ${path.join('.')}: ${message}`,
  )
  t.same(report, [], 'no problems')
})
