import { CacheEntry, CacheWrite, CacheWritten } from './cache.ts'
import { ErrorResponse } from './error.ts'
import { HealthReport, Liveness } from './health.ts'
import { ServiceInfo } from './info.ts'
import { NewUser, User, UserChanges, UserPage } from './users.ts'

/**
 * The resources, shared by validation, serialization and the document: routes
 * refer to them with Type.Ref, so they must be added (`fastify.addSchema`)
 * before the routes; each becomes an OpenAPI component named by its $id.
 */
export const RESOURCES = [
  ErrorResponse,
  ServiceInfo,
  User,
  NewUser,
  UserChanges,
  UserPage,
  CacheWrite,
  CacheWritten,
  CacheEntry,
  HealthReport,
  Liveness,
]
