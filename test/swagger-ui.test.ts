import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Locator, type Page } from 'playwright-core'
import t from 'tap'
import { build } from './helpers/app.ts'

// Debian's chromium package (.ci/run installs it); Playwright's own browser
// download cannot work here.
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SCREENSHOT = join(ROOT, 'test-output', 'swagger-ui.png')
// `UPDATE_README_SCREENSHOT=1 npm test -- test/swagger-ui.test.ts` refreshes the README's picture.
const README_SCREENSHOT = join(ROOT, 'docs', 'swagger-ui.png')

const API_KEY = 'swagger-ui-test-key-0123456789abcdef'

/** One operation of the page, by method and documented path. */
function operation(page: Page, method: string, path: string): Locator {
  return page
    .locator('.opblock')
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) })
    .filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${method}$`) }) })
}

/** Expands the operation, presses "Try it out", lets `fill` set the inputs, executes. */
async function tryItOut(op: Locator, fill: () => Promise<void>): Promise<{ status: string; body: unknown }> {
  await op.locator('.opblock-summary-control').click()
  await op.getByRole('button', { name: 'Try it out' }).click()
  await fill()
  await op.getByRole('button', { name: 'Execute' }).click()
  const response = op.locator('.live-responses-table .response')
  await response.waitFor()
  return {
    status: String(await response.locator('.response-col_status').textContent()).trim(),
    body: JSON.parse(String(await response.locator('.highlight-code .microlight').first().textContent())),
  }
}

if (!existsSync(CHROMIUM)) {
  // CI installs Chromium, so there a missing browser is a failure, not a skip.
  if (process.env.CI) t.fail(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`)
  else t.skip(`Swagger UI in a browser: needs ${CHROMIUM} (apt-get install -y chromium)`, () => {})
} else {
  t.test(
    'Swagger UI at /docs lists every route; a write without an API key gets the 401, after Authorize it stores a value that "Try it out" reads back',
    async (t) => {
      const app = await build(t, { API_KEYS: API_KEY })
      const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
      const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()

      const profile = await mkdtemp(join(tmpdir(), 'desafio3-chromium-'))
      t.teardown(() => rm(profile, { recursive: true, force: true }))
      const launchedAt = Date.now()
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_FLAGS,
        viewport: { width: 1280, height: 900 },
      })
      t.teardown(() => browser.close())
      const page = await browser.newPage()

      const openedAt = Date.now()
      await page.goto(`${baseUrl}/docs`)
      await page.locator('.opblock').first().waitFor()
      t.comment(`Chromium started in ${openedAt - launchedAt} ms; /docs rendered in ${Date.now() - openedAt} ms`)
      t.match(await page.locator('.info .title').textContent(), /^desafio3 API/, 'the page shows the API title')
      const shown = await page
        .locator('.opblock-summary')
        .evaluateAll((summaries) =>
          summaries.map(
            (summary) =>
              `${summary.querySelector('.opblock-summary-method')?.textContent} ${summary.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
          ),
        )
      const documented = Object.entries<Record<string, unknown>>(document.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      )
      t.same(shown.sort(), documented.sort(), 'the page shows every documented route')
      t.ok(shown.includes('POST /cache') && shown.includes('GET /cache/{key}') && shown.length >= 7, shown.join(', '))

      const key = `browser:${randomUUID().slice(0, 8)}`
      const value = { name: 'João', from: 'Swagger UI' }
      const post = operation(page, 'POST', '/cache')
      t.equal(await post.locator('.authorization__btn').count(), 1, 'POST /cache shows a lock: it needs a key')
      t.equal(await operation(page, 'GET', '/cache/{key}').locator('.authorization__btn').count(), 0, 'reads do not')
      const denied = await tryItOut(post, () =>
        post.locator('textarea.body-param__text').fill(JSON.stringify({ key, value, ttl: 600 }, null, 2)),
      )
      t.equal(denied.status, '401', 'POST /cache from the page without a key')
      t.match(denied.body, { statusCode: 401, code: 'UNAUTHORIZED' })

      // The Authorize button at the top, the bearer value, Authorize, Close.
      await page.locator('.auth-wrapper .authorize').click()
      const modal = page.locator('.modal-ux')
      await modal.locator('input').first().fill(API_KEY)
      await modal.getByRole('button', { name: 'Apply credentials' }).click()
      await modal.locator('button.btn-done').click()
      await post.getByRole('button', { name: 'Execute' }).click()
      const status = post.locator('.live-responses-table .response .response-col_status')
      await status.filter({ hasText: /^\s*201/ }).waitFor()
      const stored = JSON.parse(
        String(await post.locator('.live-responses-table .highlight-code .microlight').first().textContent()),
      )
      t.pass('POST /cache from the page after Authorize: 201')
      t.same(stored, { message: 'Data cached successfully', key, ttl: 600 })
      t.match(
        await post.locator('.curl-command').textContent(),
        /Authorization: Bearer /,
        'the key went as a bearer token',
      )
      await post.locator('.opblock-summary-control').click() // fold it again, for the picture

      const get = operation(page, 'GET', '/cache/{key}')
      const read = await tryItOut(get, () => get.locator('input[placeholder="key"]').fill(key))
      t.equal(read.status, '200', 'GET /cache/{key} from the page')
      t.match(read.body, { key, value, ttl: Number })
      t.same((read.body as { value: unknown }).value, value, 'the page shows the stored value')

      await mkdir(join(ROOT, 'test-output'), { recursive: true })
      await page.screenshot({ path: SCREENSHOT, fullPage: true })
      t.ok(existsSync(SCREENSHOT), `screenshot: ${SCREENSHOT}`)
      if (process.env.UPDATE_README_SCREENSHOT) {
        // From the top of the page to the end of the answer that shows the stored value.
        const answer = await get.locator('.live-responses-table').boundingBox()
        const scrolled = Number(await page.evaluate('window.scrollY'))
        const height = Math.ceil(scrolled + (answer?.y ?? 0) + (answer?.height ?? 900)) + 16
        await page.screenshot({ path: README_SCREENSHOT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height } })
        t.comment(`README screenshot updated: ${README_SCREENSHOT}`)
      }
    },
  )
}
