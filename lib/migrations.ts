import { join } from 'node:path'
import { runner } from 'node-pg-migrate'
import type { ClientConfig } from 'pg'
import { packageRoot } from './package-info.ts'

const MIGRATIONS_DIR = join(packageRoot, 'sql')
export const MIGRATIONS_TABLE = 'pgmigrations'

export interface MigrationLogger {
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

/**
 * Applies the pending migrations in sql/, in one transaction. Several instances
 * may call it at once: the advisory lock makes the others wait, then find
 * nothing left to run. Returns the names of the migrations it applied.
 */
export async function migrate(connection: ClientConfig, logger: MigrationLogger): Promise<string[]> {
  const applied = await runner({
    databaseUrl: connection,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    advisoryLockMode: 'wait',
    singleTransaction: true,
    checkOrder: true,
    logger,
  })
  return applied.map((migration) => migration.name)
}
