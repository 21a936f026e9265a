import { type Static, Type } from '@sinclair/typebox'

export const ServiceStatus = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  service: Type.String(),
  error: Type.Optional(Type.String({ description: 'Why the check failed (details are in the logs)' })),
})
export type ServiceStatus = Static<typeof ServiceStatus>

export const HealthReport = Type.Object(
  {
    status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded')]),
    timestamp: Type.String({ format: 'date-time' }),
    services: Type.Object({ web: ServiceStatus, db: ServiceStatus, cache: ServiceStatus }),
  },
  { $id: 'HealthReport', title: 'HealthReport' },
)
export type HealthReport = Static<typeof HealthReport>

export const Liveness = Type.Object(
  { status: Type.Literal('ok', { description: 'The process is up and serving HTTP' }) },
  { $id: 'Liveness', title: 'Liveness' },
)
