import DataLoader from 'dataloader'

/**
 * `load` run once per distinct key for all the calls made in one turn of the
 * event loop (DataLoader, dispatched at setImmediate, no cache): requests that
 * arrive together share one query. Each shared query starts after every call
 * it answers was made, so a read still sees every write committed before it
 * was asked for.
 */
export function oncePerTurn<V>(load: (key: string) => Promise<V>): (key: string) => Promise<V> {
  const loader = new DataLoader<string, V>(
    async (keys) => {
      const loads = new Map<string, Promise<V | Error>>()
      for (const key of keys) {
        if (!loads.has(key))
          loads.set(
            key,
            load(key).catch((err: Error) => err),
          )
      }
      return Promise.all(keys.map((key) => loads.get(key) as Promise<V | Error>))
    },
    { cache: false, batchScheduleFn: (dispatch) => setImmediate(dispatch) },
  )
  return (key) => loader.load(key)
}
