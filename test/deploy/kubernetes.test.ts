// deploy/kubernetes/ checked without a cluster (docs/kubernetes.md says what this
// covers and what it does not):
// - every document of every manifest against the Kubernetes API schemas
//   (kubernetes-models), plus no field the API does not know (read from the same
//   package's type declarations: its validate() lets unknown fields through);
// - each kustomization.yaml against the files of its folder;
// - the manifests against each other and against the app: its settings
//   (lib/config.ts), its routes, the image's user and heap (Dockerfile);
// - `kubectl kustomize` (kustomize built into kubectl) renders base, trial and
//   the overlay docs/kubernetes.md shows, and the rendered documents pass the
//   same schema checks; skipped where kubectl is not installed.
// Needs no Postgres, no Redis and no cluster.
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IDeployment, IStatefulSet } from 'kubernetes-models/apps/v1'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import type { IIngress, INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1'
import type {
  IConfigMap,
  IContainer,
  IPodSpec,
  IPodTemplateSpec,
  IProbe,
  ISecret,
  IService,
} from 'kubernetes-models/v1'
import t, { type Test } from 'tap'
import ts from 'typescript'
import { parseAllDocuments } from 'yaml'
import { ConfigSchema, loadConfig } from '../../lib/config.ts'
import { buildServer } from '../../src/build.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const KUBERNETES = join(ROOT, 'deploy/kubernetes')
const FOLDERS = ['base', 'trial'] as const
type Folder = (typeof FOLDERS)[number]

/** The uid of the user an image's `USER` names, for the base images the Dockerfile may use. */
const IMAGE_USERS: Record<string, number> = { node: 1000 }
/** Postgres' superuser_reserved_connections default: not for the app. */
const POSTGRES_RESERVED_CONNECTIONS = 3
/** Room a Node.js process needs beside V8's old space: young generation, code, buffers. */
const NODE_HEADROOM_MIB = 64

// ---------------------------------------------------------------------------
// Reading the folders

interface KubernetesObject {
  apiVersion?: unknown
  kind?: unknown
  metadata?: { name?: unknown; namespace?: unknown }
  [field: string]: unknown
}

interface Manifest {
  folder: Folder
  file: string
  /** `file#index` when a file holds several documents. */
  where: string
  object: KubernetesObject
}

/** All documents of a YAML file; a syntax error fails the test with its message. */
function yamlDocuments(text: string, where: string): unknown[] {
  return parseAllDocuments(text).map((document, index) => {
    if (document.errors.length) throw new Error(`${where}#${index}: ${document.errors.map(String).join('; ')}`)
    return document.toJS()
  })
}

interface Kustomization {
  apiVersion?: string
  kind?: string
  resources?: string[]
  [field: string]: unknown
}

function readKustomization(folder: Folder): Kustomization {
  const path = join(KUBERNETES, folder, 'kustomization.yaml')
  return yamlDocuments(readFileSync(path, 'utf8'), path)[0] as Kustomization
}

function manifestFiles(folder: Folder): string[] {
  return readdirSync(join(KUBERNETES, folder))
    .filter((file) => file !== 'kustomization.yaml')
    .sort()
}

const kustomizations = Object.fromEntries(FOLDERS.map((folder) => [folder, readKustomization(folder)])) as Record<
  Folder,
  Kustomization
>

const manifests: Manifest[] = FOLDERS.flatMap((folder) =>
  manifestFiles(folder)
    .filter((file) => /\.ya?ml$/.test(file))
    .flatMap((file) => {
      const documents = yamlDocuments(readFileSync(join(KUBERNETES, folder, file), 'utf8'), `${folder}/${file}`)
      return documents.map((object, index) => ({
        folder,
        file: `${folder}/${file}`,
        where: documents.length > 1 ? `${folder}/${file}#${index}` : `${folder}/${file}`,
        object: (object ?? {}) as KubernetesObject,
      }))
    }),
)

function objects<T>(kind: string, folder?: Folder): T[] {
  return manifests
    .filter((manifest) => manifest.object.kind === kind && (!folder || manifest.folder === folder))
    .map((manifest) => manifest.object as T)
}

function only<T>(kind: string, folder?: Folder): T {
  const found = objects<T>(kind, folder)
  if (found.length !== 1) throw new Error(`expected one ${kind}${folder ? ` in ${folder}` : ''}, found ${found.length}`)
  return found[0]
}

function named<T extends { metadata?: { name?: string } }>(kind: string, name: string | undefined): T | undefined {
  return objects<T>(kind).find((object) => object.metadata?.name === name)
}

// ---------------------------------------------------------------------------
// The API schemas

interface ModelClass {
  new (data: object): { validate(): void }
  apiVersion: string
  kind: string
}

/**
 * The kubernetes-models class for an apiVersion and kind (`apps/v1` Deployment:
 * `kubernetes-models/apps/v1/Deployment`, export Deployment), or undefined for a
 * kind the package (the Kubernetes API) does not have. One module per kind: the
 * index of a group version loads every kind of it, seconds for `v1`.
 */
async function modelClass(apiVersion: unknown, kind: unknown): Promise<ModelClass | undefined> {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z]\w*$/.test(kind)) return undefined
  let module: Record<string, unknown>
  try {
    module = await import(`kubernetes-models/${apiVersion}/${kind}`)
  } catch {
    return undefined
  }
  const candidate = module[kind] as ModelClass | undefined
  return candidate?.apiVersion === apiVersion && candidate?.kind === kind ? candidate : undefined
}

/**
 * Finds fields the Kubernetes API does not know (a typo such as `readinesProbe`
 * is dropped or refused by a real API server, and passes validate()). The
 * known fields are the properties of kubernetes-models' own interface for the
 * kind (`IDeployment` ...), walked with the TypeScript checker.
 */
function unknownFieldFinder(kinds: { apiVersion: string; kind: string }[]) {
  // A module that exists only in memory, beside this file so that it resolves
  // kubernetes-models from the project's node_modules.
  const virtualFile = join(ROOT, 'test', '__kubernetes_api_types__.mts')
  const lines = kinds.map(
    ({ apiVersion, kind }, index) =>
      `import type { I${kind} as T${index} } from 'kubernetes-models/${apiVersion}/${kind}'\nexport type K${index} = T${index}`,
  )
  const text = lines.join('\n')
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    // Only what the declarations need: no DOM, no @types.
    lib: ['lib.es2022.d.ts'],
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (name) => name === virtualFile || fileExists.call(host, name)
  host.readFile = (name) => (name === virtualFile ? text : readFile.call(host, name))
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === virtualFile
      ? ts.createSourceFile(name, text, languageVersion)
      : getSourceFile.call(host, name, languageVersion, ...rest)
  const program = ts.createProgram([virtualFile], options, host)
  const source = program.getSourceFile(virtualFile)
  if (!source) throw new Error('the in-memory type module did not load')
  const problems = ts.getPreEmitDiagnostics(program, source)
  if (problems.length) {
    throw new Error(problems.map((problem) => ts.flattenDiagnosticMessageText(problem.messageText, '\n')).join('\n'))
  }
  const checker = program.getTypeChecker()
  const types = new Map<string, ts.Type>()
  for (const statement of source.statements) {
    if (!ts.isTypeAliasDeclaration(statement)) continue
    const { apiVersion, kind } = kinds[Number(statement.name.text.slice(1))]
    types.set(`${apiVersion} ${kind}`, checker.getTypeAtLocation(statement.name))
  }

  const OPEN = ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.NonPrimitive
  function walk(value: unknown, type: ts.Type, path: string, found: string[]): void {
    if (value === null || typeof value !== 'object') return
    const known = checker.getNonNullableType(type)
    if (known.flags & OPEN) return
    if (Array.isArray(value)) {
      if (!checker.isArrayType(known)) return // a type mismatch: validate() reports it
      const [element] = checker.getTypeArguments(known as ts.TypeReference)
      value.forEach((item, index) => {
        walk(item, element, `${path}[${index}]`, found)
      })
      return
    }
    const members = known.isUnion() ? known.types : [known]
    for (const [key, child] of Object.entries(value)) {
      const property = members.map((member) => member.getProperty(key)).find(Boolean)
      const indexType = members.map((member) => checker.getIndexTypeOfType(member, ts.IndexKind.String)).find(Boolean)
      if (property) walk(child, checker.getTypeOfSymbol(property), `${path}.${key}`, found)
      else if (indexType) walk(child, indexType, `${path}.${key}`, found)
      else found.push(`${path}.${key}`.replace(/^\./, ''))
    }
  }

  return (object: KubernetesObject): string[] => {
    const type = types.get(`${object.apiVersion} ${object.kind}`)
    if (!type) throw new Error(`no type for ${object.apiVersion} ${object.kind}`)
    const found: string[] = []
    walk(object, type, '', found)
    return found
  }
}

const kindKey = (object: KubernetesObject) => `${object.apiVersion} ${object.kind}`

/** The finder for every kind seen so far (building one takes seconds): remade only when a new kind comes. */
let finder: { kinds: Map<string, { apiVersion: string; kind: string }>; find: (object: KubernetesObject) => string[] }

function knowKinds(objects: KubernetesObject[]): void {
  if (objects.every((object) => finder?.kinds.has(kindKey(object)))) return
  const kinds = new Map(finder?.kinds)
  for (const object of objects) {
    kinds.set(kindKey(object), { apiVersion: String(object.apiVersion), kind: String(object.kind) })
  }
  finder = { kinds, find: unknownFieldFinder([...kinds.values()]) }
}

function unknownFields(object: KubernetesObject): string[] {
  knowKinds([object])
  return finder.find(object)
}

/** Runs the schema checks on each document: a known kind, validate(), no unknown field, a name. */
async function checkAgainstApi(t: Test, documents: { where: string; object: KubernetesObject }[]) {
  const classes = await Promise.all(documents.map(({ object }) => modelClass(object.apiVersion, object.kind)))
  documents.forEach(({ where, object }, index) => {
    t.ok(classes[index], `${where}: ${object.apiVersion} ${object.kind} is a kind of the Kubernetes API`)
  })
  knowKinds(documents.filter((_, index) => classes[index]).map(({ object }) => object))
  documents.forEach(({ where, object }, index) => {
    const Model = classes[index]
    if (!Model) return
    t.doesNotThrow(() => new Model(object).validate(), `${where}: ${object.kind} passes the API schema`)
    t.same(unknownFields(object), [], `${where}: every field is one the API knows`)
    t.match(object.metadata?.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${where}: named (DNS label)`)
  })
}

// ---------------------------------------------------------------------------
// The app's side

/** The environment web gets from the ConfigMap and the Secret, and the config the app makes of it. */
const configMap = only<IConfigMap>('ConfigMap', 'base')
const secret = only<ISecret>('Secret', 'base')
const webEnvironment = { ...configMap.data, ...secret.stringData }
// A value the app refuses fails a test below; the others go on with the defaults.
const config = (() => {
  try {
    return loadConfig(webEnvironment)
  } catch {
    return loadConfig({})
  }
})()

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')

/** The uid of the Dockerfile's last `USER`. */
function imageUid(): number | undefined {
  const user = [...dockerfile.matchAll(/^USER\s+([^\s:]+)/gm)].at(-1)?.[1]
  if (user === undefined) return undefined
  return /^\d+$/.test(user) ? Number(user) : IMAGE_USERS[user]
}

/** The --max-old-space-size of the Dockerfile's last CMD (the image's), in MiB. */
function imageOldSpaceMiB(): number | undefined {
  const cmd = [...dockerfile.matchAll(/^CMD\s+(\[.*\])\s*$/gm)].at(-1)?.[1]
  const flag = (cmd ? (JSON.parse(cmd) as string[]) : []).find((arg) => arg.startsWith('--max-old-space-size='))
  return flag ? Number(flag.split('=')[1]) : undefined
}

const QUANTITY_UNITS: Record<string, number> = {
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  k: 1000 / 2 ** 20,
  M: 10 ** 6 / 2 ** 20,
  G: 10 ** 9 / 2 ** 20,
  '': 1 / 2 ** 20,
}

/** A memory quantity (`384Mi`, `1Gi`, `500M`) in MiB. */
function mebibytes(quantity: unknown): number {
  const match = String(quantity).match(/^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G|)$/)
  if (!match) throw new Error(`unsupported memory quantity ${String(quantity)}`)
  return Number(match[1]) * QUANTITY_UNITS[match[2]]
}

// ---------------------------------------------------------------------------
// The workloads

const web = only<IDeployment>('Deployment', 'base')
const webPod = web.spec?.template as IPodTemplateSpec
const webSpec = webPod.spec as IPodSpec
const webContainer = webSpec.containers[0]
const statefulSets = objects<IStatefulSet>('StatefulSet', 'trial')
const postgres = statefulSets.find((set) => set.metadata?.name === 'desafio3-postgres')
const redis = statefulSets.find((set) => set.metadata?.name === 'desafio3-redis')

/** Every pod template: the Deployment's and the StatefulSets'. */
const workloads = [web, ...statefulSets].map((workload) => ({
  name: String(workload.metadata?.name),
  template: workload.spec?.template as IPodTemplateSpec,
}))

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(selector ?? {})
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value)
}

/** The workloads whose pods a selector picks. */
function selected(selector: Record<string, string> | undefined): string[] {
  return workloads.filter(({ template }) => selects(selector, template.metadata?.labels)).map(({ name }) => name)
}

/** The container port a probe, Service or policy names (by name or number). */
function containerPort(container: IContainer, port: unknown): number | undefined {
  if (typeof port === 'number') return container.ports?.some((p) => p.containerPort === port) ? port : undefined
  return container.ports?.find((p) => p.name === port)?.containerPort
}

function probeCommand(probe: IProbe | undefined): string {
  return (probe?.exec?.command ?? []).join(' ')
}

// ---------------------------------------------------------------------------
// The tests

t.test("each kustomization.yaml lists exactly its folder's files", async (t) => {
  for (const folder of FOLDERS) {
    const kustomization = kustomizations[folder]
    t.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1', `${folder}: apiVersion`)
    t.equal(kustomization.kind, 'Kustomization', `${folder}: kind`)
    const resources = kustomization.resources ?? []
    t.equal(new Set(resources).size, resources.length, `${folder}: no resource listed twice`)
    const listedFiles = resources.filter((resource) => !resource.includes('/'))
    t.same([...listedFiles].sort(), manifestFiles(folder), `${folder}: the files in resources are the folder's files`)
    for (const resource of resources.filter((resource) => resource.includes('/'))) {
      t.ok(
        existsSync(join(KUBERNETES, folder, resource, 'kustomization.yaml')),
        `${folder}: ${resource} is a kustomization`,
      )
    }
  }
  t.same(
    kustomizations.trial.resources?.filter((resource) => resource.includes('/')),
    ['../base'],
    'trial builds on base',
  )
})

t.test('every manifest document passes the Kubernetes API schemas and knows its place', async (t) => {
  t.ok(manifests.length >= 12, `${manifests.length} documents`)
  await checkAgainstApi(t, manifests)
  for (const { where, object } of manifests) {
    t.equal(object.metadata?.namespace, undefined, `${where}: no namespace (kubectl -n or an overlay picks one)`)
    // kubernetes-models keeps versions the API has removed (autoscaling/v2beta1 went in 1.25).
    t.notMatch(object.apiVersion, /(alpha|beta)\d*$/, `${where}: a stable API version (${object.apiVersion})`)
  }
  const names = manifests.map(({ object }) => `${object.kind}/${object.metadata?.name}`)
  t.same([...new Set(names)].sort(), [...names].sort(), 'no two objects of a kind share a name')
})

t.test('the schema checks themselves catch what they are for', async (t) => {
  t.equal(await modelClass('apps/v1', 'Deploymnet'), undefined, 'a misspelt kind is no kind')
  t.equal(await modelClass('apps/v9', 'Deployment'), undefined, 'an unknown version is none')
  t.equal(await modelClass('example.com/v1', 'Widget'), undefined, 'a custom resource is unknown here')
  const Deployment = await modelClass('apps/v1', 'Deployment')
  t.equal(Deployment?.kind, 'Deployment', 'apps/v1 Deployment is known')

  const broken = structuredClone(web) as unknown as KubernetesObject & { spec: Record<string, unknown> }
  broken.spec.replicas = 'three'
  t.throws(() => Deployment && new Deployment(broken).validate(), 'validate() refuses a wrong type')

  const misspelt = structuredClone(web) as IDeployment & Record<string, unknown>
  const container = misspelt.spec?.template.spec?.containers[0] as IContainer & Record<string, unknown>
  container.readinesProbe = container.readinessProbe
  ;(misspelt.spec?.strategy?.rollingUpdate as Record<string, unknown>).maxUnavilable = 0
  ;(misspelt.metadata as Record<string, unknown>).lables = {}
  misspelt.extra = true
  t.doesNotThrow(
    () => Deployment && new Deployment(misspelt).validate(),
    'validate() alone lets unknown fields through',
  )
  t.same(
    unknownFields(misspelt as KubernetesObject).sort(),
    [
      'extra',
      'metadata.lables',
      'spec.strategy.rollingUpdate.maxUnavilable',
      'spec.template.spec.containers[0].readinesProbe',
    ],
    'the unknown-field check finds each, with its path',
  )
  t.same(unknownFields(web as unknown as KubernetesObject), [], 'and nothing in the real Deployment')
})

t.test('the ConfigMap and the Secret hold settings the app reads, valid together', async (t) => {
  const known = Object.keys(ConfigSchema.properties)
  const configKeys = Object.keys(configMap.data ?? {})
  const secretKeys = Object.keys(secret.stringData ?? {})
  for (const key of configKeys) t.ok(known.includes(key), `ConfigMap ${key} is a variable lib/config.ts reads`)
  for (const key of secretKeys) t.ok(known.includes(key), `Secret ${key} is a variable lib/config.ts reads`)
  t.same(
    configKeys.filter((key) => secretKeys.includes(key)),
    [],
    'no variable in both (one would silently win)',
  )
  t.doesNotThrow(() => loadConfig(webEnvironment), 'the app accepts the two together (loadConfig)')
  t.same(Object.keys(configMap).sort(), ['apiVersion', 'data', 'kind', 'metadata'], 'ConfigMap: data only')
  t.ok(['0.0.0.0', '::'].includes(config.HOST), 'HOST is every interface: probes and the Service reach the pod IP')
  t.equal(config.POSTGRES_HOST, postgres?.spec?.serviceName, "POSTGRES_HOST is the trial's Postgres Service")
  t.equal(config.REDIS_HOST, redis?.spec?.serviceName, "REDIS_HOST is the trial's Redis Service")
  const envFrom = webContainer.envFrom ?? []
  t.same(
    envFrom.map((source) => source.configMapRef?.name ?? source.secretRef?.name),
    [configMap.metadata?.name, secret.metadata?.name],
    'web reads every key of the ConfigMap, then of the Secret, as environment variables',
  )
  t.same(webContainer.env ?? [], [], 'and no other environment variable (nothing shadows them)')
})

t.test('the Secret holds clearly marked placeholders, and nothing else', async (t) => {
  t.equal(secret.data, undefined, 'stringData only: readable as the placeholders it holds')
  t.equal(secret.type, 'Opaque')
  const values = Object.entries(secret.stringData ?? {})
  t.same(values.map(([key]) => key).sort(), ['API_KEYS', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD'])
  for (const [key, value] of values) t.match(value, /^REPLACE-ME-/, `${key} is marked for replacement`)
  t.match(readFileSync(join(KUBERNETES, 'base/secret.yaml'), 'utf8'), /^# PLACEHOLDERS: replace/m, 'and says so on top')
})

t.test("probes and the Service reach the app's own routes on the port it listens on", async (t) => {
  const server = await buildServer(
    loadConfig(
      {
        ...webEnvironment,
        // Nothing listens there: the app starts with its dependencies down, and
        // only its routes are read.
        POSTGRES_HOST: '127.0.0.1',
        POSTGRES_PORT: '1',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: '1',
        LOG_LEVEL: 'silent',
      },
      { MIGRATE_ON_START: false },
    ),
    { pretty: false },
  )
  t.teardown(() => server.close())
  await server.ready()

  const probes = {
    readiness: webContainer.readinessProbe,
    liveness: webContainer.livenessProbe,
    startup: webContainer.startupProbe,
  }
  t.equal(probes.readiness?.httpGet?.path, '/health/ready', 'readiness: GET /health/ready')
  t.equal(probes.liveness?.httpGet?.path, '/health/live', 'liveness: GET /health/live')
  for (const [name, probe] of Object.entries(probes)) {
    const path = String(probe?.httpGet?.path)
    t.ok(server.hasRoute({ method: 'GET', url: path }), `${name} probe: GET ${path} is a route of the app`)
    t.equal(containerPort(webContainer, probe?.httpGet?.port), config.PORT, `${name} probe: on PORT (${config.PORT})`)
    t.ok((probe?.timeoutSeconds ?? 1) >= 2, `${name} probe: waits at least 2 s (the dependency checks take up to 1 s)`)
  }
  t.ok(
    (probes.startup?.periodSeconds ?? 10) * (probes.startup?.failureThreshold ?? 3) >= 60,
    'startup probe: allows a minute to start',
  )

  const annotations = webPod.metadata?.annotations ?? {}
  t.ok(server.hasRoute({ method: 'GET', url: annotations['prometheus.io/path'] }), 'metrics path is a route')
  t.equal(Number(annotations['prometheus.io/port']), config.PORT, 'metrics port is PORT')

  const service = named<IService>('Service', web.metadata?.name)
  t.ok(service, 'a Service named like the Deployment')
  for (const port of service?.spec?.ports ?? []) {
    t.equal(containerPort(webContainer, port.targetPort), config.PORT, `Service port ${port.name} reaches PORT`)
    t.equal(port.port, config.PORT, 'and is PORT too, as in compose (web:5000)')
  }
})

t.test('the Ingress serves HTTPS for each of its hosts, to the web Service', async (t) => {
  const ingress = only<IIngress>('Ingress', 'base')
  const service = only<IService>('Service', 'base')
  const rules = ingress.spec?.rules ?? []
  t.ok(rules.length > 0, 'at least one rule')
  const tlsHosts = (ingress.spec?.tls ?? []).flatMap((entry) => entry.hosts ?? [])
  for (const entry of ingress.spec?.tls ?? []) t.ok(entry.secretName, `a TLS secret for ${entry.hosts}`)
  t.same(rules.map((rule) => rule.host).sort(), [...tlsHosts].sort(), 'every host it routes is a host of its TLS')
  for (const rule of rules) {
    t.ok(rule.host, 'a host per rule (no catch-all over plain HTTP)')
    for (const path of rule.http?.paths ?? []) {
      const backend = path.backend.service
      t.equal(backend?.name, service.metadata?.name, `${rule.host}${path.path}: to the web Service`)
      const port = service.spec?.ports?.find((p) => p.name === backend?.port?.name || p.port === backend?.port?.number)
      t.ok(port, `${rule.host}${path.path}: on a port of that Service (${JSON.stringify(backend?.port)})`)
      t.equal(containerPort(webContainer, port?.targetPort), config.PORT, 'which reaches the app')
    }
  }
  t.same(
    rules.flatMap((rule) => (rule.http?.paths ?? []).map((path) => `${path.pathType} ${path.path}`)),
    ['Prefix /'],
    'every path',
  )
})

t.test('Service, PDB and HPA all point at the web Deployment, and only at it', async (t) => {
  const podLabels = webPod.metadata?.labels
  t.ok(selects(web.spec?.selector.matchLabels, podLabels), "the Deployment's selector matches its pods")
  t.same(web.spec?.selector.matchExpressions, undefined, 'selector by labels only')

  const service = only<IService>('Service', 'base')
  t.same(selected(service.spec?.selector), [web.metadata?.name], "the Service selects web's pods, not the trial's")

  const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget', 'base')
  t.same(pdb.spec?.selector?.matchLabels, web.spec?.selector.matchLabels, 'the PDB selects what the Deployment does')
  t.same(selected(pdb.spec?.selector?.matchLabels), [web.metadata?.name], "the PDB covers web's pods only")
  const budget = pdb.spec?.maxUnavailable ?? (web.spec?.replicas ?? 0) - Number(pdb.spec?.minAvailable)
  t.equal(budget, 1, 'at most one pod down at a time (maxUnavailable 1)')

  const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'base')
  t.same(
    hpa.spec?.scaleTargetRef,
    { apiVersion: web.apiVersion, kind: 'Deployment', name: web.metadata?.name },
    'the HPA scales the Deployment',
  )
  t.equal(hpa.spec?.minReplicas, web.spec?.replicas, "the HPA's minimum is the Deployment's replicas")
  t.equal(web.spec?.replicas, 3, '3 replicas')
  t.ok((hpa.spec?.maxReplicas ?? 0) > (hpa.spec?.minReplicas ?? 0), 'room to scale up')
  const cpu = hpa.spec?.metrics?.find((metric) => metric.resource?.name === 'cpu')
  t.equal(cpu?.resource?.target.type, 'Utilization', 'on CPU utilisation')
  t.ok(webContainer.resources?.requests?.cpu, 'of a CPU request (utilisation is relative to it)')
})

t.test('stopping: the grace period covers the preStop sleep and SHUTDOWN_TIMEOUT_MS', async (t) => {
  const preStop = webContainer.lifecycle?.preStop
  const sleepSeconds = preStop?.sleep?.seconds ?? 0
  t.ok(sleepSeconds >= 3 && sleepSeconds <= 10, `preStop sleeps a few seconds (${sleepSeconds})`)
  const grace = webSpec.terminationGracePeriodSeconds ?? 30
  const needed = sleepSeconds + Math.ceil(config.SHUTDOWN_TIMEOUT_MS / 1000)
  t.ok(
    grace >= needed,
    `terminationGracePeriodSeconds ${grace} >= preStop ${sleepSeconds} s + shutdown ${needed - sleepSeconds} s`,
  )
  t.ok(grace - needed >= 2, `with a margin (${grace - needed} s) for the process to exit`)
})

t.test("web runs as the image's user; every pod non-root, read-only, without privileges", async (t) => {
  const uid = imageUid()
  t.equal(uid, 1000, 'the Dockerfile runs as node (uid 1000)')
  t.equal(webContainer.securityContext?.runAsUser ?? webSpec.securityContext?.runAsUser, uid, "web's runAsUser is it")
  for (const { name, template } of workloads) {
    const pod = template.spec as IPodSpec
    t.equal(pod.automountServiceAccountToken, false, `${name}: no service account token`)
    t.equal(pod.enableServiceLinks, false, `${name}: no Service environment variables`)
    t.equal(pod.hostNetwork ?? false, false, `${name}: no host network`)
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      const where = `${name}/${container.name}`
      const effective = { ...pod.securityContext, ...container.securityContext }
      t.equal(effective.runAsNonRoot, true, `${where}: runAsNonRoot`)
      t.ok((effective.runAsUser ?? 0) > 0, `${where}: a numeric non-root runAsUser`)
      t.equal(effective.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`)
      t.equal(effective.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`)
      t.same(container.securityContext?.capabilities, { drop: ['ALL'] }, `${where}: drops all capabilities, adds none`)
      t.equal(effective.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`)
      t.equal(effective.privileged ?? false, false, `${where}: not privileged`)
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          t.ok(container.resources?.[kind]?.[resource], `${where}: ${kind}.${resource}`)
        }
      }
      t.match(container.image, /^[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/, `${where}: image with a tag`)
      t.notMatch(container.image, /:latest$/, `${where}: not :latest`)
    }
  }
})

t.test("web's memory fits the heap the image allows", async (t) => {
  const oldSpace = imageOldSpaceMiB()
  t.equal(oldSpace, 256, 'the image caps the old space at 256 MiB (Dockerfile CMD)')
  const limit = mebibytes(webContainer.resources?.limits?.memory)
  const request = mebibytes(webContainer.resources?.requests?.memory)
  t.ok(
    limit >= (oldSpace ?? 0) + NODE_HEADROOM_MIB,
    `limit ${limit} MiB >= heap ${oldSpace} + ${NODE_HEADROOM_MIB} MiB`,
  )
  t.ok(request <= limit, 'request within the limit')
  const peak = readFileSync(join(ROOT, 'BENCHMARKS.md'), 'utf8').match(/peak RSS (\d+) MiB/)?.[1]
  t.test(
    'request covers the peak RSS measured under load (BENCHMARKS.md)',
    { skip: !peak && 'no peak RSS in BENCHMARKS.md' },
    async (t) => {
      t.ok(request >= Number(peak), `request ${request} MiB >= peak ${peak} MiB`)
    },
  )
})

t.test('rollouts keep every pod serving; pods spread over nodes', async (t) => {
  t.equal(web.spec?.strategy?.type, 'RollingUpdate')
  t.equal(web.spec?.strategy?.rollingUpdate?.maxUnavailable, 0, 'maxUnavailable 0')
  t.equal(web.spec?.strategy?.rollingUpdate?.maxSurge, 1, 'maxSurge 1')
  const spread = webSpec.topologySpreadConstraints ?? []
  const byHost = spread.find((constraint) => constraint.topologyKey === 'kubernetes.io/hostname')
  t.ok(byHost, 'spread across nodes')
  t.equal(byHost?.whenUnsatisfiable, 'ScheduleAnyway', 'preferred, not required')
  for (const constraint of spread) {
    t.same(
      selected(constraint.labelSelector?.matchLabels),
      [web.metadata?.name],
      `${constraint.topologyKey}: web's pods`,
    )
  }
  t.match(
    webContainer.image,
    /^desafio3-web:[\w.-]+$/,
    'image desafio3-web with a tag (kustomize images: overrides it)',
  )
})

t.test("trial: each StatefulSet's headless Service exists and selects its pods", async (t) => {
  t.same(statefulSets.map((set) => set.metadata?.name).sort(), ['desafio3-postgres', 'desafio3-redis'])
  for (const set of statefulSets) {
    const name = String(set.metadata?.name)
    const service = named<IService>('Service', set.spec?.serviceName)
    t.ok(service, `${name}: its serviceName ${set.spec?.serviceName} is a Service`)
    t.equal(service?.spec?.clusterIP, 'None', `${name}: headless`)
    t.same(selected(service?.spec?.selector), [name], `${name}: the Service selects its pods only`)
    t.ok(selects(set.spec?.selector.matchLabels, set.spec?.template.metadata?.labels), `${name}: selector matches pods`)
    const container = set.spec?.template.spec?.containers[0] as IContainer
    for (const port of service?.spec?.ports ?? []) {
      t.equal(
        containerPort(container, port.targetPort),
        port.port,
        `${name}: Service port ${port.port} reaches the container`,
      )
    }
    const claims = set.spec?.volumeClaimTemplates ?? []
    t.ok(claims.length > 0, `${name}: volumeClaimTemplates`)
    for (const claim of claims) {
      t.ok(
        container.volumeMounts?.some((mount) => mount.name === claim.metadata?.name),
        `${name}: claim ${claim.metadata?.name} is mounted`,
      )
      t.ok(claim.spec?.resources?.requests?.storage, `${name}: claim ${claim.metadata?.name} asks for storage`)
    }
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      t.ok(container[kind]?.exec, `${name}: ${kind}`)
    }
  }
  const postgresService = named<IService>('Service', postgres?.spec?.serviceName)
  const redisService = named<IService>('Service', redis?.spec?.serviceName)
  t.equal(postgresService?.spec?.ports?.[0].port, config.POSTGRES_PORT, 'Postgres Service on POSTGRES_PORT')
  t.equal(redisService?.spec?.ports?.[0].port, config.REDIS_PORT, 'Redis Service on REDIS_PORT')

  for (const policy of objects<INetworkPolicy>('NetworkPolicy', 'trial')) {
    const name = policy.metadata?.name
    const targets = selected(policy.spec?.podSelector?.matchLabels)
    t.equal(targets.length, 1, `${name}: applies to one StatefulSet's pods`)
    const target = statefulSets.find((set) => set.metadata?.name === targets[0])
    for (const rule of policy.spec?.ingress ?? []) {
      for (const peer of rule.from ?? []) {
        t.same(selected(peer.podSelector?.matchLabels), [web.metadata?.name], `${name}: lets web's pods in`)
      }
      for (const port of rule.ports ?? []) {
        t.ok(
          containerPort(target?.spec?.template.spec?.containers[0] as IContainer, port.port),
          `${name}: port ${port.port}`,
        )
      }
    }
  }
})

t.test(
  "trial: Postgres and Redis take web's settings and passwords; Redis' password is on no command line",
  async (t) => {
    const pg = postgres?.spec?.template.spec?.containers[0] as IContainer
    const env = (container: IContainer, name: string) => container.env?.find((variable) => variable.name === name)
    for (const key of ['POSTGRES_DB', 'POSTGRES_USER']) {
      t.same(
        env(pg, key)?.valueFrom?.configMapKeyRef,
        { name: configMap.metadata?.name, key },
        `Postgres: ${key} from web's ConfigMap`,
      )
    }
    t.same(
      env(pg, 'POSTGRES_PASSWORD')?.valueFrom?.secretKeyRef,
      { name: secret.metadata?.name, key: 'POSTGRES_PASSWORD' },
      "Postgres: POSTGRES_PASSWORD from web's Secret",
    )
    const pgdata = String(env(pg, 'PGDATA')?.value)
    const dataMount = pg.volumeMounts?.find((mount) => mount.name === 'data')?.mountPath
    t.ok(dataMount && pgdata.startsWith(`${dataMount}/`), 'PGDATA is a folder inside the volume (not its root)')
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      t.match(probeCommand(pg[kind]), /\bpg_isready\b/, `Postgres ${kind}: pg_isready`)
    }

    const rd = redis?.spec?.template.spec?.containers[0] as IContainer
    t.same(
      env(rd, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef,
      { name: secret.metadata?.name, key: 'REDIS_PASSWORD' },
      "Redis: REDIS_PASSWORD from web's Secret",
    )
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      t.match(probeCommand(rd[kind]), /redis-cli ping \| grep -qx PONG/, `Redis ${kind}: redis-cli ping answers PONG`)
      t.match(probeCommand(rd[kind]), /REDISCLI_AUTH="\$REDIS_PASSWORD"/, `Redis ${kind}: password by environment`)
    }
    const argv = [...(rd.command ?? []), ...(rd.args ?? [])]
    const script = argv.at(-1) ?? ''
    for (const [index, arg] of argv.entries()) {
      // Kubernetes itself expands $(NAME) in command and args: that would put the value in argv.
      t.notMatch(arg, /\$\(REDIS_PASSWORD\)/, `argument ${index}: no $(REDIS_PASSWORD) for Kubernetes to expand`)
    }
    const serverLine = script.split('\n').find((line) => /\bredis-server\b/.test(line)) ?? ''
    t.match(serverLine, /^\s*exec redis-server "\$conf"\s*$/, 'redis-server gets only the config file (exec: PID 1)')
    t.notMatch(script, /--requirepass|--appendonly/, 'no option on the command line')
    t.match(script, /requirepass/, 'the password goes into the config file')
    t.match(script, /echo 'appendonly yes'/, 'append-only file on')
    const maxmemory = Number(/echo 'maxmemory (\d+)mb'/.exec(script)?.[1])
    t.ok(maxmemory > 0, `a bound on its memory: ${maxmemory} MB`)
    t.match(script, /echo 'maxmemory-policy allkeys-lfu'/, 'past it, the least frequently used keys are evicted')
    t.ok(
      mebibytes(rd.resources?.limits?.memory) >= 2 * maxmemory,
      'the container may hold twice that (an append-only file rewrite copies what is written meanwhile)',
    )
    t.match(script, /umask 077/, 'the config file is readable by its owner only')
    const confDir = script.match(/conf=(\S+)\/[^/\s]+$/m)?.[1]
    const confMount = rd.volumeMounts?.find((mount) => mount.mountPath === confDir)
    const confVolume = redis?.spec?.template.spec?.volumes?.find((volume) => volume.name === confMount?.name)
    t.equal(confVolume?.emptyDir?.medium, 'Memory', 'written to an in-memory volume')
    t.ok(
      rd.volumeMounts?.some((mount) => mount.name === 'data' && mount.mountPath === '/data'),
      'data in /data',
    )
  },
)

t.test("trial: every web pod's connections fit Postgres' max_connections", async (t) => {
  const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'base')
  const pods = (hpa.spec?.maxReplicas ?? 0) + Number(web.spec?.strategy?.rollingUpdate?.maxSurge ?? 0)
  const args = (postgres?.spec?.template.spec?.containers[0].args ?? []).join(' ')
  const maxConnections = Number(args.match(/max_connections=(\d+)/)?.[1] ?? 100)
  // Each pod: its pool, and one connection for the migrations at start.
  const needed = pods * (config.DB_POOL_MAX + 1)
  t.ok(
    needed <= maxConnections - POSTGRES_RESERVED_CONNECTIONS,
    `${pods} pods x (DB_POOL_MAX ${config.DB_POOL_MAX} + 1) = ${needed} <= ${maxConnections} - ${POSTGRES_RESERVED_CONNECTIONS}`,
  )
})

// ---------------------------------------------------------------------------
// kustomize itself (built into kubectl), where kubectl is installed

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const noKubectl = kubectl.status === 0 ? false : 'kubectl is not installed: kustomize builds not checked'

function kustomize(folder: string): KubernetesObject[] {
  const result = spawnSync('kubectl', ['kustomize', folder], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`kubectl kustomize ${folder}: ${result.stderr || result.error}`)
  return yamlDocuments(result.stdout, folder) as KubernetesObject[]
}

const identity = (object: KubernetesObject) => `${object.kind}/${object.metadata?.name}`

t.test('kubectl kustomize builds base and trial into exactly their documents', { skip: noKubectl }, async (t) => {
  t.comment(kubectl.stdout.trim().replaceAll('\n', '; '))
  for (const folder of FOLDERS) {
    const built = kustomize(join(KUBERNETES, folder))
    const expected = manifests.filter((manifest) => folder === 'trial' || manifest.folder === 'base')
    t.same(built.map(identity).sort(), expected.map(({ object }) => identity(object)).sort(), `${folder}: every object`)
    for (const object of built) {
      const source = expected.find((manifest) => identity(manifest.object) === identity(object))
      t.same(object, source?.object, `${folder}: ${identity(object)} as written`)
    }
    await checkAgainstApi(
      t,
      built.map((object) => ({ where: `built ${folder}: ${identity(object)}`, object })),
    )
  }
})

t.test(
  'the overlay docs/kubernetes.md shows (managed services, real secrets, own image) builds and does what it says',
  { skip: noKubectl },
  async (t) => {
    const docs = readFileSync(join(ROOT, 'docs/kubernetes.md'), 'utf8')
    const blocks = [...docs.matchAll(/```\w*\n# (production\/[\w.-]+)\n([\s\S]*?)```/g)]
    t.same(blocks.map(([, path]) => path).sort(), ['production/kustomization.yaml', 'production/secrets.env'])
    // The overlay next to base, as the docs place it: deploy/kubernetes/production.
    const scratch = mkdtempSync(join(tmpdir(), 'desafio3-kustomize-'))
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
    symlinkSync(join(KUBERNETES, 'base'), join(scratch, 'base'))
    mkdirSync(join(scratch, 'production'))
    for (const [, path, text] of blocks) writeFileSync(join(scratch, path), text)

    const built = kustomize(join(scratch, 'production'))
    await checkAgainstApi(
      t,
      built.map((object) => ({ where: `built production: ${identity(object)}`, object })),
    )
    const builtConfigMap = built.find((object) => object.kind === 'ConfigMap') as IConfigMap | undefined
    const builtSecret = built.find((object) => object.kind === 'Secret') as ISecret | undefined
    const builtWeb = built.find((object) => object.kind === 'Deployment') as IDeployment | undefined
    const secretValues = Object.fromEntries(
      Object.entries(builtSecret?.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
    )
    t.notOk(
      Object.values(secretValues).some((value) => value.startsWith('REPLACE-ME')),
      'no placeholder left',
    )
    t.ok(Object.keys(secretValues).length > 0, 'the secrets come from secrets.env')
    t.notSame(builtConfigMap?.data?.POSTGRES_HOST, configMap.data?.POSTGRES_HOST, 'POSTGRES_HOST points elsewhere')
    t.notSame(builtConfigMap?.data?.REDIS_HOST, configMap.data?.REDIS_HOST, 'REDIS_HOST points elsewhere')
    t.doesNotThrow(() => loadConfig({ ...builtConfigMap?.data, ...secretValues }), 'the app accepts the result')
    const image = builtWeb?.spec?.template.spec?.containers[0].image
    t.notSame(image, webContainer.image, `web runs the overlay's image (${image})`)
    const envFrom = builtWeb?.spec?.template.spec?.containers[0].envFrom ?? []
    t.same(
      envFrom.map((source) => source.configMapRef?.name ?? source.secretRef?.name),
      [builtConfigMap?.metadata?.name, builtSecret?.metadata?.name],
      'web reads the overlay’s ConfigMap and Secret',
    )
    const builtIngress = built.find((object) => object.kind === 'Ingress') as IIngress | undefined
    const baseHosts = only<IIngress>('Ingress', 'base').spec?.rules?.map((rule) => rule.host)
    const hosts = builtIngress?.spec?.rules?.map((rule) => rule.host)
    t.notSame(hosts, baseHosts, `the Ingress serves the overlay's host name (${hosts})`)
    t.same(
      builtIngress?.spec?.tls?.flatMap((entry) => entry.hosts),
      hosts,
      'with TLS for it',
    )
  },
)
