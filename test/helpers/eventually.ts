/** Retries `check` until it passes or `timeoutMs` runs out; returns the milliseconds it took. */
export async function eventually(check: () => Promise<unknown>, timeoutMs: number, intervalMs = 100): Promise<number> {
  const started = Date.now()
  for (;;) {
    try {
      await check()
      return Date.now() - started
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  }
}
