/**
 * deploy/kubernetes/ builds and is valid Kubernetes 1.27: the base and every overlay are built
 * (test/deploy/kustomize.ts, the kustomize features they use), and every object is validated
 * against the Kubernetes OpenAPI schemas (kubernetes-models 5.1 = Kubernetes 1.27; KEDA's
 * ScaledObject from @kubernetes-models/keda) and for unknown fields. Then the objects are checked
 * against each other and against the server: selectors, ports, probes on routes that exist,
 * settings lastmile reads, the grace period against the drain. No cluster, kubectl or network.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1'
import { beforeAll, describe, expect, it } from 'vitest'
import { ENV_VARS, loadConfig } from '../../src/config.js'
import { autoscalingSchema } from '../../src/serving/settings.js'
import { knownFields, MODEL_TYPES } from './known-fields.js'
import { type Build, idOf, type K8sObject, kustomize, readYaml } from './kustomize.js'

const ROOT = new URL('../..', import.meta.url).pathname
const KUBE = join(ROOT, 'deploy', 'kubernetes')
const TARGETS = { base: 'base', gpu: 'overlays/gpu', keda: 'overlays/keda' } as const
type Target = keyof typeof TARGETS

/**
 * Variables the manifests set ahead of the server reading them: the shared store's URL is being
 * added to src/config.ts as these manifests are written. Each must be documented in the README.
 */
const PENDING_VARS = ['LASTMILE_STORE_URL']

/** Each kind's schema validation (throws on an invalid object). */
const VALIDATE: Record<string, new (data: never) => { validate(): void }> = {
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'v1 Service': Service,
  'apps/v1 Deployment': Deployment,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1 ScaledObject': ScaledObject,
}

const kindOf = (o: K8sObject) => `${o.apiVersion} ${o.kind}`

/** Schema errors of `o` (empty when valid). */
function schemaErrors(o: unknown): string[] {
  const kind = kindOf(o as K8sObject)
  const Model = VALIDATE[kind]
  if (!Model) return [`${kind}: no schema (add it to VALIDATE and MODEL_TYPES)`]
  try {
    new Model(structuredClone(o) as never).validate()
    return []
  } catch (e) {
    return [`${idOf(o as K8sObject)}: ${(e as Error).message}`]
  }
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return yamlFiles(path)
    return /\.ya?ml$/.test(e.name) ? [path] : []
  })
}

// The parts of the objects the checks read (the schemas have already vouched for their types).
interface Probe {
  httpGet: { path: string; port: number | string }
}
interface Container {
  name: string
  ports?: { name?: string; containerPort: number }[]
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[]
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  livenessProbe?: Probe
  readinessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: { exec?: { command: string[] } } }
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean }
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]
}
interface PodSpec {
  containers: Container[]
  terminationGracePeriodSeconds?: number
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }
  volumes?: { name: string }[]
  tolerations?: { key?: string }[]
}
interface DeploymentShape {
  spec: {
    selector: { matchLabels: Record<string, string> }
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }
  }
}

function one<T>(objects: K8sObject[], kind: string): K8sObject & T {
  const found = objects.filter((o) => kindOf(o) === kind)
  expect(found.map(idOf), kind).toHaveLength(1)
  return found[0] as K8sObject & T
}

/** `labels` has every pair of `selector`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v)
}

/** The container's environment as the kubelet builds it: envFrom first, then env (secrets by reference). */
function environment(objects: K8sObject[], c: Container): Map<string, string> {
  const env = new Map<string, string>()
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef
    const kind = from.configMapRef ? 'v1 ConfigMap' : 'v1 Secret'
    const source = objects.find((o) => kindOf(o) === kind && o.metadata.name === ref?.name)
    expect(source, `envFrom ${kind} ${ref?.name}`).toBeDefined()
    const data = { ...((source?.data ?? {}) as Record<string, string>), ...((source?.stringData ?? {}) as object) }
    for (const [k, v] of Object.entries(data)) env.set(k, String(v))
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef
    if (ref) {
      const secret = objects.find((o) => kindOf(o) === 'v1 Secret' && o.metadata.name === ref.name)
      const keys = Object.keys({ ...(secret?.data ?? {}), ...(secret?.stringData ?? {}) })
      expect(keys, `secret ${ref.name} has ${ref.key}`).toContain(ref.key)
      env.set(e.name, `<secret ${ref.name}/${ref.key}>`)
    } else {
      expect(e.valueFrom, `env ${e.name}`).toBeUndefined()
      env.set(e.name, e.value ?? '')
    }
  }
  return env
}

/** The public routes of src/server/routes/v2.ts (`path: '…'` and, in the same declaration, `access: 'public'`). */
function publicV2Routes(): string[] {
  const source = readFileSync(join(ROOT, 'src', 'server', 'routes', 'v2.ts'), 'utf8')
  return [...source.matchAll(/path: '([^']+)',[^}]*?access: '(\w+)'/g)]
    .filter((m) => m[2] === 'public')
    .map((m) => m[1] as string)
}

/** The numeric USER of the Dockerfile's last stage. */
function imageUser(): number {
  const users = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^USER\s+(\d+)/gm)]
  return Number(users.at(-1)?.[1])
}

describe('deploy/kubernetes', () => {
  const builds = {} as Record<Target, Build>
  let unknownFields: ReturnType<typeof knownFields>
  beforeAll(() => {
    for (const [name, dir] of Object.entries(TARGETS)) builds[name as Target] = kustomize(join(KUBE, dir))
    unknownFields = knownFields(ROOT)
  })

  it('every YAML file parses and is part of a build', () => {
    const files = yamlFiles(KUBE)
    for (const f of files) readYaml(f)
    const used = new Set(Object.values(builds).flatMap((b) => b.files))
    expect(files.filter((f) => !used.has(f)).map((f) => relative(ROOT, f))).toEqual([])
  })

  it('builds objects that the Kubernetes 1.27 schemas accept, with no unknown field', () => {
    for (const [name, { objects }] of Object.entries(builds)) {
      expect(objects.length, name).toBeGreaterThan(0)
      expect(objects.flatMap(schemaErrors), name).toEqual([])
      expect(
        objects.flatMap((o) => unknownFields(kindOf(o), o)),
        name,
      ).toEqual([])
    }
    expect(Object.keys(VALIDATE).sort()).toEqual(Object.keys(MODEL_TYPES).sort())
  })

  it('rejects a broken manifest: a port as a string, a misspelt field, a KEDA threshold as a number', () => {
    const deployment = one<DeploymentShape>(builds.base.objects, 'apps/v1 Deployment')
    const broken = structuredClone(deployment)
    const c = broken.spec.template.spec.containers[0] as Container
    ;(c.ports as { containerPort: unknown }[])[0] = { containerPort: '8080' }
    expect(schemaErrors(broken).join()).toMatch(/containerPort must be integer/)
    const misspelt = structuredClone(deployment) as unknown as { spec: { template: { spec: Record<string, unknown> } } }
    misspelt.spec.template.spec.terminationGracePeriod = 60
    expect(schemaErrors(misspelt)).toEqual([]) // the schemas allow unknown fields...
    expect(unknownFields('apps/v1 Deployment', misspelt)).toEqual([
      'apps/v1 Deployment: unknown field spec.template.spec.terminationGracePeriod', // ...this does not
    ])
    const scaled = structuredClone(one(builds.keda.objects, 'keda.sh/v1alpha1 ScaledObject')) as unknown as {
      spec: { triggers: { metadata: Record<string, unknown> }[] }
    }
    ;(scaled.spec.triggers[0] as { metadata: Record<string, unknown> }).metadata.threshold = 6
    expect(schemaErrors(scaled).join()).toMatch(/must be string/)
  })

  for (const target of Object.keys(TARGETS) as Target[]) {
    describe(target, () => {
      const objects = () => builds[target].objects
      const deployment = () => one<DeploymentShape>(objects(), 'apps/v1 Deployment')
      const container = () => {
        const c = deployment().spec.template.spec.containers.find((x) => x.name === 'lastmile')
        expect(c).toBeDefined()
        return c as Container
      }
      const port = (ref: number | string) => {
        const ports = container().ports ?? []
        return typeof ref === 'number' ? ports.find((p) => p.containerPort === ref) : ports.find((p) => p.name === ref)
      }

      it('selects its own pods: Deployment, Service, PodDisruptionBudget', () => {
        const { spec } = deployment()
        const labels = spec.template.metadata.labels
        expect(selects(spec.selector.matchLabels, labels)).toBe(true)
        const service = one<{ spec: { selector: Record<string, string> } }>(objects(), 'v1 Service')
        expect(selects(service.spec.selector, labels)).toBe(true)
        const pdb = one<{ spec: { selector: { matchLabels: Record<string, string> } } }>(
          objects(),
          'policy/v1 PodDisruptionBudget',
        )
        expect(selects(pdb.spec.selector.matchLabels, labels)).toBe(true)
      })

      it('has exactly one autoscaler, aimed at the Deployment', () => {
        const autoscalers = objects().filter((o) =>
          ['autoscaling/v2 HorizontalPodAutoscaler', 'keda.sh/v1alpha1 ScaledObject'].includes(kindOf(o)),
        )
        expect(autoscalers.map(kindOf)).toEqual([
          target === 'keda' ? 'keda.sh/v1alpha1 ScaledObject' : 'autoscaling/v2 HorizontalPodAutoscaler',
        ])
        const ref = (autoscalers[0] as { spec?: { scaleTargetRef?: Record<string, string> } }).spec?.scaleTargetRef
        expect(ref).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata.name })
      })

      it('serves on the port the settings name, behind the Service, and probes routes the server has', () => {
        const env = environment(objects(), container())
        const defaults = loadConfig({}).server
        const listen = Number(env.get('LASTMILE_PORT') ?? defaults.port)
        expect(listen).toBe(defaults.port)
        expect(env.get('LASTMILE_HOST')).toBe('0.0.0.0')
        expect(port(listen)).toBeDefined()
        const service = one<{ spec: { ports: { port: number; targetPort: number | string }[] } }>(
          objects(),
          'v1 Service',
        )
        for (const p of service.spec.ports) expect(port(p.targetPort)?.containerPort).toBe(listen)
        const routes = publicV2Routes()
        expect(routes).toContain('/v2/health/live')
        const c = container()
        const probes = { liveness: c.livenessProbe, startup: c.startupProbe, readiness: c.readinessProbe }
        expect(probes.liveness?.httpGet.path).toBe('/v2/health/live')
        expect(probes.readiness?.httpGet.path).toBe('/v2/health/ready')
        for (const [name, probe] of Object.entries(probes)) {
          if (!probe) continue
          expect(routes, `${name} probe path`).toContain(probe.httpGet.path)
          expect(port(probe.httpGet.port)?.containerPort, `${name} probe port`).toBe(listen)
        }
        // Prometheus scrapes the same port, without a key when keys are on.
        const annotations = deployment().spec.template.metadata.annotations ?? {}
        expect(annotations['prometheus.io/scrape']).toBe('true')
        expect(Number(annotations['prometheus.io/port'])).toBe(listen)
        expect(annotations['prometheus.io/path']).toBe('/metrics')
        if (env.get('LASTMILE_AUTH') !== 'off') expect(env.get('LASTMILE_METRICS_PUBLIC')).toBe('true')
      })

      it('sets only settings lastmile reads, to values it accepts', () => {
        const env = environment(objects(), container())
        const settings = [...env.keys()].filter((k) => k.startsWith('LASTMILE_'))
        expect(settings.filter((k) => !(k in ENV_VARS) && !PENDING_VARS.includes(k))).toEqual([])
        const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
        for (const k of PENDING_VARS) expect(readme.includes(k), `README documents ${k}`).toBe(true)
        // Secrets stand in by reference; the rest goes through the real config parser.
        const plain = Object.fromEntries([...env].filter(([k, v]) => k in ENV_VARS && !v.startsWith('<secret ')))
        expect(() => loadConfig(plain)).not.toThrow()
        for (const ref of container().envFrom ?? [])
          expect(ref.secretRef, 'secrets by key, not envFrom').toBeUndefined()
      })

      it('runs as the image user, non-root, read-only, with its data folder on a volume', () => {
        const pod = deployment().spec.template.spec
        expect(pod.securityContext?.runAsNonRoot).toBe(true)
        expect(pod.securityContext?.runAsUser).toBe(imageUser())
        expect(imageUser()).toBeGreaterThan(0)
        const c = container()
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false })
        const mounts = c.volumeMounts ?? []
        for (const m of mounts) expect(pod.volumes?.map((v) => v.name)).toContain(m.name)
        const writable = mounts.filter((m) => !m.readOnly).map((m) => m.mountPath)
        const dataDir = environment(objects(), c).get('LASTMILE_DATA_DIR') ?? ''
        expect(writable.some((p) => dataDir.startsWith(`${p}/`))).toBe(true) // a folder the server creates
        expect(writable).toContain('/tmp')
      })

      it('gives the drain its time: grace period > preStop sleep + the drain budget', () => {
        const pod = deployment().spec.template
        const command = container().lifecycle?.preStop?.exec?.command ?? []
        expect(command[0]).toBe('sleep')
        const sleep = Number(command[1])
        const drain = Number(pod.metadata.annotations?.['lastmile/drain-seconds'])
        expect(sleep).toBeGreaterThan(0)
        expect(drain).toBeGreaterThan(0)
        expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(sleep + drain)
      })

      it(target === 'gpu' ? 'asks for an NVIDIA GPU and runs on it' : 'asks for no GPU', () => {
        const c = container()
        const env = environment(objects(), c)
        if (target !== 'gpu') {
          expect(c.resources?.limits?.['nvidia.com/gpu']).toBeUndefined()
          return
        }
        expect(c.resources?.requests?.['nvidia.com/gpu']).toBe('1')
        expect(c.resources?.limits?.['nvidia.com/gpu']).toBe('1')
        expect(env.get('LASTMILE_BACKEND')).toBe('webgpu')
        expect(env.get('NVIDIA_DRIVER_CAPABILITIES')?.split(',')).toEqual(
          expect.arrayContaining(['compute', 'utility', 'graphics']),
        )
        expect(env.has('NVIDIA_VISIBLE_DEVICES')).toBe(false) // the device plugin's to set
        expect(deployment().spec.template.spec.tolerations?.map((t) => t.key)).toContain('nvidia.com/gpu')
      })

      if (target === 'keda') {
        it('scales on in-flight requests at the in-process autoscaler target, and on CPU', () => {
          const scaled = one<{
            spec: { triggers: { type: string; metricType?: string; metadata: Record<string, string> }[] }
          }>(objects(), 'keda.sh/v1alpha1 ScaledObject')
          const defaults = autoscalingSchema.parse({ max_replicas: 1 })
          const perPod = Math.round(defaults.target_in_flight * defaults.target_utilization)
          const prom = scaled.spec.triggers.find((t) => t.type === 'prometheus')
          expect(prom?.metadata.query).toMatch(/^sum\(lastmile_in_flight_requests(\{[^}]*\})?\)$/)
          expect(prom?.metricType).toBe('AverageValue')
          expect(Number(prom?.metadata.threshold)).toBe(perPod)
          expect(scaled.spec.triggers.find((t) => t.type === 'cpu')?.metricType).toBe('Utilization')
          expect(container().resources?.requests?.cpu).toBeDefined() // CPU utilization needs a request
        })
      }
    })
  }
})
