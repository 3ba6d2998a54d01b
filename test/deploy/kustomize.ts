/**
 * The subset of kustomize that deploy/kubernetes/ uses, done the way kustomize does it, and
 * nothing else: a Kustomization's `resources` (YAML files, or folders holding a kustomization) and
 * its `patches` given by `path` (strategic-merge patches, `$patch: delete` removing an object).
 * Anything else (another field, a patch target, a JSON6902 patch, a `$patch` or `$retainKeys`
 * directive inside an object) is an error, so a manifest never relies on a feature this does not
 * build. Strategic merge follows Kubernetes' patch strategies for the lists deploy/ patches:
 * containers, env, volumes, volumeMounts and ports merge by their key, every other list is replaced.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

type Json = Record<string, unknown>

/**
 * The YAML documents of `file` (empty documents dropped); throws on a syntax error or warning.
 * Read as YAML 1.1, as kubectl reads them: an unquoted `on`, `yes` or `off` is a boolean there.
 */
export function readYaml(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1', uniqueKeys: true, prettyErrors: true })
  if (!Array.isArray(docs)) throw new Error(`${file}: not YAML documents`)
  const out: unknown[] = []
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings]
    if (problems.length) throw new Error(`${file}: ${problems.map((e) => e.message).join('; ')}`)
    const value = doc.toJS({ maxAliasCount: 0 })
    if (value !== null && value !== undefined) out.push(value)
  }
  return out
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The identity kustomize matches patches on, and refuses twice. */
export function idOf(o: K8sObject): string {
  return `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`
}

function asObject(value: unknown, where: string): K8sObject {
  if (!isObject(value)) throw new Error(`${where}: a document is not a mapping`)
  const { apiVersion, kind, metadata } = value
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !isObject(metadata)) {
    throw new Error(`${where}: a document lacks apiVersion, kind or metadata`)
  }
  if (typeof metadata.name !== 'string' || metadata.name === '') throw new Error(`${where}: metadata.name is missing`)
  return value as K8sObject
}

export interface Build {
  objects: K8sObject[]
  /** Every file read, kustomizations included (absolute paths). */
  files: string[]
}

/** Build the kustomization in `dir` as `kustomize build dir` would, for the features above. */
export function kustomize(dir: string): Build {
  const file = join(dir, 'kustomization.yaml')
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`)
  const [k, ...more] = readYaml(file)
  if (!isObject(k) || more.length) throw new Error(`${file}: expected one Kustomization`)
  for (const field of Object.keys(k)) {
    if (!['apiVersion', 'kind', 'resources', 'patches'].includes(field)) {
      throw new Error(`${file}: field '${field}' is not supported by this build (test/deploy/kustomize.ts)`)
    }
  }
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') {
    throw new Error(`${file}: expected kustomize.config.k8s.io/v1beta1 Kustomization`)
  }
  const files = [file]
  const objects: K8sObject[] = []
  const ids = new Set<string>()
  for (const entry of list(k.resources, `${file}: resources`)) {
    if (typeof entry !== 'string') throw new Error(`${file}: a resource is not a path`)
    const path = join(dir, entry)
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`)
    const found: K8sObject[] = []
    if (statSync(path).isDirectory()) {
      const sub = kustomize(path)
      files.push(...sub.files)
      found.push(...sub.objects)
    } else {
      files.push(path)
      found.push(...readYaml(path).map((d) => asObject(d, path)))
    }
    for (const o of found) {
      noDirectives(o, `${relative(dir, path)}: ${idOf(o)}`)
      if (ids.has(idOf(o))) throw new Error(`${file}: ${idOf(o)} is defined twice`)
      ids.add(idOf(o))
      objects.push(o)
    }
  }
  for (const entry of list(k.patches, `${file}: patches`)) {
    if (!isObject(entry) || Object.keys(entry).join() !== 'path' || typeof entry.path !== 'string') {
      throw new Error(`${file}: a patch must be { path: <file> } (targets and inline patches are not supported)`)
    }
    const path = join(dir, entry.path)
    files.push(path)
    const docs = readYaml(path)
    if (docs.length !== 1) throw new Error(`${path}: a patch file holds one patch`)
    const { $patch, ...patch } = docs[0] as Json
    const target = asObject(patch, path)
    const at = objects.findIndex((o) => idOf(o) === idOf(target))
    if (at < 0) throw new Error(`${path}: no object ${idOf(target)} to patch`)
    if ($patch === 'delete') {
      if (Object.keys(patch).some((f) => !['apiVersion', 'kind', 'metadata'].includes(f))) {
        throw new Error(`${path}: a delete patch names its object and nothing else`)
      }
      objects.splice(at, 1)
    } else if ($patch === undefined) {
      noDirectives(patch, path)
      objects[at] = merge(objects[at] as Json, patch, []) as K8sObject
    } else {
      throw new Error(`${path}: $patch: ${String($patch)} is not supported`)
    }
  }
  return { objects, files }
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new Error(`${where} must be a list`)
  return value
}

/** Strategic-merge directives this build does not implement ($patch inside an object, $retainKeys, ...). */
function noDirectives(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const v of value) noDirectives(v, where)
  } else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith('$')) throw new Error(`${where}: directive ${key} is not supported`)
      noDirectives(v, where)
    }
  }
}

/** The key a list merges on (Kubernetes' patchMergeKey), or undefined: the patch's list replaces. */
function mergeKey(path: string[]): string | undefined {
  const field = path[path.length - 1]
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name'
    case 'volumeMounts':
      return 'mountPath'
    // A container's ports merge on containerPort; a Service's on port.
    case 'ports':
      return path.includes('containers') || path.includes('initContainers') ? 'containerPort' : 'port'
    default:
      return undefined
  }
}

function merge(base: unknown, patch: unknown, path: string[]): unknown {
  if (isObject(patch)) {
    const out: Json = isObject(base) ? { ...base } : {}
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key]
      else out[key] = merge(out[key], value, [...path, key])
    }
    return out
  }
  if (Array.isArray(patch)) {
    const key = mergeKey(path)
    if (key === undefined || !Array.isArray(base)) return structuredClone(patch)
    const out = [...base]
    for (const item of patch) {
      if (!isObject(item) || item[key] === undefined) {
        throw new Error(`${path.join('.')}: a patched element needs its merge key '${key}'`)
      }
      const at = out.findIndex((b) => isObject(b) && b[key] === item[key])
      if (at < 0) out.push(structuredClone(item))
      else out[at] = merge(out[at], item, path)
    }
    return out
  }
  return patch
}
