/**
 * Unknown fields, as `kubectl apply` (strict field validation, the default since Kubernetes 1.27)
 * refuses them. The OpenAPI schemas that kubernetes-models validates against allow any extra
 * property, so a misspelt `readinesProbe` would pass them; the models' TypeScript interfaces list
 * every field, so each key of a manifest is looked up in its interface with the TypeScript checker
 * (types only: no file is written, nothing is emitted).
 */
import { join } from 'node:path'
import ts from 'typescript'

/** The interface of each kind deploy/kubernetes/ uses: `apiVersion kind` → [module, interface]. */
export const MODEL_TYPES: Record<string, [string, string]> = {
  'v1 ConfigMap': ['kubernetes-models/v1', 'IConfigMap'],
  'v1 Secret': ['kubernetes-models/v1', 'ISecret'],
  'v1 Service': ['kubernetes-models/v1', 'IService'],
  'apps/v1 Deployment': ['kubernetes-models/apps/v1', 'IDeployment'],
  'policy/v1 PodDisruptionBudget': ['kubernetes-models/policy/v1', 'IPodDisruptionBudget'],
  'autoscaling/v2 HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2', 'IHorizontalPodAutoscaler'],
  'keda.sh/v1alpha1 ScaledObject': ['@kubernetes-models/keda/keda.sh/v1alpha1', 'IScaledObject'],
}

/** A checker over the interfaces above; `check(kind, object)` answers the paths of unknown fields. */
export function knownFields(root: string): (kind: string, value: unknown) => string[] {
  const file = join(root, 'test', 'deploy', '__kubernetes-model-types__.ts')
  const names = Object.keys(MODEL_TYPES)
  const source = [
    ...names.map((n, i) => {
      const [module, type] = MODEL_TYPES[n] as [string, string]
      return `import type { ${type} as T${i} } from '${module}'`
    }),
    `export interface All {\n${names.map((n, i) => `  '${n}': T${i}`).join('\n')}\n}`,
  ].join('\n')
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (f) => f === file || fileExists(f)
  host.readFile = (f) => (f === file ? source : readFile(f))
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest)
  const program = ts.createProgram([file], options, host)
  const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(file))
  if (problems.length) {
    throw new Error(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'))
  }
  const checker = program.getTypeChecker()
  const sf = program.getSourceFile(file) as ts.SourceFile
  const all = checker.getExportsOfModule(checker.getSymbolAtLocation(sf) as ts.Symbol).find((s) => s.name === 'All')
  if (!all) throw new Error('no All interface')
  const allType = checker.getDeclaredTypeOfSymbol(all)

  const typeOf = (s: ts.Symbol) => checker.getTypeOfSymbolAtLocation(s, sf)

  /** The object type among `type`'s union members that fits `value` (array or mapping). */
  function shape(type: ts.Type, array: boolean): ts.Type | undefined {
    const members = type.isUnion() ? type.types : [type]
    return members.find((t) =>
      array ? checker.isArrayType(t) : !checker.isArrayType(t) && t.flags & ts.TypeFlags.Object,
    )
  }

  function walk(value: unknown, type: ts.Type, path: string, out: string[]): void {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return
    if (Array.isArray(value)) {
      const t = shape(type, true)
      if (!t) return // the schema reports a list where none belongs
      const element = checker.getTypeArguments(t as ts.TypeReference)[0]
      if (element) for (const [i, v] of value.entries()) walk(v, element, `${path}[${i}]`, out)
      return
    }
    if (typeof value !== 'object' || value === null) return
    const t = shape(type, false)
    if (!t) return
    const index = checker.getIndexInfoOfType(t, ts.IndexKind.String)
    for (const [key, v] of Object.entries(value)) {
      const prop = checker.getPropertyOfType(t, key)
      if (prop) walk(v, typeOf(prop), `${path}.${key}`, out)
      else if (index) walk(v, index.type, `${path}.${key}`, out)
      else out.push(`${path}.${key}`)
    }
  }

  return (kind, value) => {
    const prop = checker.getPropertyOfType(allType, kind)
    if (!prop) return [`${kind}: no model for this kind`]
    const out: string[] = []
    walk(value, typeOf(prop), '', out)
    return out.map((p) => `${kind}: unknown field ${p.slice(1)}`)
  }
}
