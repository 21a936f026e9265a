import { Type } from '@sinclair/typebox'
import { packageVersion } from '../package-info.ts'

export const ServiceInfo = Type.Object(
  {
    service: Type.String({ examples: ['Desafio 3 - Docker Compose'] }),
    version: Type.String({ examples: [packageVersion] }),
    timestamp: Type.String({ format: 'date-time', description: 'Server time, ISO 8601' }),
    endpoints: Type.Record(Type.String(), Type.String(), { description: 'Name → path of each endpoint' }),
    services: Type.Object({
      web: Type.String(),
      db: Type.String(),
      cache: Type.String(),
    }),
  },
  { $id: 'ServiceInfo', title: 'ServiceInfo' },
)
