/**
 * src/'s import graph and the rule it follows (test/layers.test.ts checks it on every `npm test`).
 *
 * The rule: every file of src/ belongs to a module (a folder, or a file at src/'s root), and every
 * module sits in one tier of {@link TIERS}. A module imports modules of its own tier and of the
 * tiers below, never above; a few modules are held tighter ({@link ONLY}). Nothing in src/ imports
 * a file outside src/ (test/, bench/, scripts/). No cycles: neither between modules nor between
 * files, type-only imports included (they shape the `.d.ts` files and a reader's walk just the same).
 * Packages are Biome's business (biome.json: only src/server and src/cli import hono).
 *
 * A new folder under src/ fails the check until it has a tier here: choosing it is the design step.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix, relative } from 'node:path'
import ts from 'typescript'

/** One tier of modules; `modules` are folders of src/ ('jobs/io' is its own) or files at its root. */
export interface Tier {
  name: string
  modules: readonly string[]
  /** What the tier is for. */
  why: string
}

/** The tiers, lowest first: a module may import its own tier and those listed before it. */
export const TIERS: readonly Tier[] = [
  {
    name: 'base',
    modules: [
      'errors.ts',
      'logger.ts',
      'durable.ts',
      'random.ts',
      'svg.ts',
      'version.ts',
      'config.ts',
      'config-schema.ts',
      'exact-json.ts',
      'half.ts',
      'workers',
    ],
    why: 'the typed errors, the process logger, fsync helpers, the seeded generator, the one config object, the exact JSON parser (server and client), FP16 conversions (codecs, jobs and the log), worker start-up',
  },
  {
    name: 'outside',
    modules: ['onnx', 'gpu', 'store', 'outbound'],
    why: 'each outside thing behind one module: ONNX bytes, the GPU device, the metadata store, outbound HTTP',
  },
  { name: 'compute', modules: ['engine', 'kernels'], why: 'tensors and model sessions; WGSL kernels' },
  { name: 'steps', modules: ['pipeline', 'logs'], why: 'pre, model and post steps; the inference log' },
  {
    name: 'serving',
    modules: ['serving', 'formats', 'assays', 'slo', 'live', 'outcomes'],
    why: "deployments and their batchers; request and response codecs; drift assays; service-level objectives; each deployment's last minute, live; ground truth, outcome metrics, champion vs challenger",
  },
  {
    name: 'services',
    modules: ['registry', 'jobs', 'jobs/io', 'explain', 'optimize', 'wire'],
    why: 'the model registry, batch jobs and their file formats, explanations, measured tuning, the wire schemas',
  },
  { name: 'interfaces', modules: ['server', 'client'], why: 'the HTTP server (Hono) and the typed client' },
  { name: 'commands', modules: ['cli'], why: 'the `lastmile` command' },
  { name: 'entry', modules: ['index.ts'], why: "the package's public API: nothing in src/ imports it" },
]

/**
 * Modules held tighter than their tier: the files and folders (paths under src/, a folder ending
 * in '/') they may import at most, and those of them they may import values from; of the rest,
 * types only (`import type`), which leave nothing behind at run time.
 */
export const ONLY: Readonly<Record<string, { imports: readonly string[]; values: readonly string[]; why: string }>> = {
  client: {
    imports: ['wire/', 'formats/media-types.ts', 'exact-json.ts'],
    values: ['formats/media-types.ts', 'exact-json.ts'],
    why: "the client speaks the wire schemas, the media types and the wire's JSON numbers (exact-json.ts, which imports nothing) and nothing else, so it runs without the server",
  },
}

/** One import of one file: its specifier as written, and whether it brings in types only. */
export interface ImportRef {
  specifier: string
  typeOnly: boolean
}

/** An import between two files, paths relative to the repository root with forward slashes. */
export interface Edge {
  from: string
  to: string
  typeOnly: boolean
}

/**
 * The imports of one source file, read with TypeScript's parser: `import`, `export … from`,
 * `import()` and `import('…').T` in types. Worker entries started by URL are not imports.
 */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const kind = fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, kind)
  const out: ImportRef[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)))
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: allTypes })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause
      const allTypes =
        node.isTypeOnly ||
        (named !== undefined &&
          ts.isNamedExports(named) &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly))
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: allTypes })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg && ts.isStringLiteralLike(arg)) out.push({ specifier: arg.text, typeOnly: false })
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) {
        out.push({ specifier: arg.literal.text, typeOnly: true })
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** Where a relative specifier of `from` points: the `.ts` source of a `.js` specifier when there is one. */
function resolve(from: string, specifier: string, exists: (path: string) => boolean): string {
  const target = posix.normalize(posix.join(posix.dirname(from), specifier))
  if (target.endsWith('.js')) {
    const source = `${target.slice(0, -3)}.ts`
    if (exists(source)) return source
  }
  return target
}

/** Source files under `dir` (relative to `root`), forward slashes. */
function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const entry of readdirSync(join(root, d), { withFileTypes: true })) {
      const path = posix.join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path)
    }
  }
  walk(dir)
  return out.sort()
}

/** Every relative import between the source files under `dir`, and the files themselves. */
export function readGraph(root: string, dir = 'src'): { files: string[]; edges: Edge[] } {
  const files = sourceFiles(root, dir)
  const known = new Set(files)
  const edges: Edge[] = []
  for (const from of files) {
    for (const ref of importsOf(from, readFileSync(join(root, from), 'utf8'))) {
      if (!ref.specifier.startsWith('.')) continue
      edges.push({ from, to: resolve(from, ref.specifier, (p) => known.has(p)), typeOnly: ref.typeOnly })
    }
  }
  return { files, edges }
}

/** The module of a file under `dir`: its longest listed folder, or the file itself at the root. */
export function moduleOf(file: string, dir = 'src', tiers: readonly Tier[] = TIERS): string | undefined {
  const rel = relative(dir, file).split('\\').join('/')
  if (rel.startsWith('..')) return undefined
  if (!rel.includes('/')) return rel
  let best: string | undefined
  for (const tier of tiers) {
    for (const m of tier.modules) {
      if (rel.startsWith(`${m}/`) && (best === undefined || m.length > best.length)) best = m
    }
  }
  return best ?? dirname(rel).split('/')[0]
}

/** The problems of a graph under the rule, one line each naming the edge; empty when it holds. */
export function checkGraph(
  graph: { files: readonly string[]; edges: readonly Edge[] },
  dir = 'src',
  tiers: readonly Tier[] = TIERS,
  only: typeof ONLY = ONLY,
): string[] {
  const problems: string[] = []
  const tierOf = new Map<string, number>()
  tiers.forEach((t, i) => {
    for (const m of t.modules) tierOf.set(m, i)
  })
  const describe = (m: string) => {
    const i = tierOf.get(m)
    return i === undefined ? m : `${m} (tier ${i} "${tiers[i]?.name}")`
  }
  const unplaced = new Set<string>()
  for (const f of graph.files) {
    const m = moduleOf(f, dir, tiers)
    if (m !== undefined && !tierOf.has(m)) unplaced.add(m)
  }
  for (const m of unplaced) {
    problems.push(`${dir}/${m}: a module with no tier; place it in TIERS (test/helpers/import-graph.ts)`)
  }

  const moduleEdges = new Map<string, Map<string, Edge>>()
  for (const e of graph.edges) {
    const from = moduleOf(e.from, dir, tiers)
    const to = moduleOf(e.to, dir, tiers)
    if (from === undefined) continue
    if (to === undefined) {
      problems.push(`${e.from} → ${e.to}: ${dir}/ never imports a file outside ${dir}/ (tests, benchmarks, scripts)`)
      continue
    }
    if (from === to) continue
    const rule = only[from]
    const target = posix.relative(dir, e.to)
    const listed = (paths: readonly string[]) =>
      paths.some((p) => (p.endsWith('/') ? target.startsWith(p) : target === p))
    if (rule && !listed(rule.imports)) {
      problems.push(`${e.from} → ${e.to}: ${from} imports only ${rule.imports.join(', ')}: ${rule.why}`)
    } else if (rule && !e.typeOnly && !listed(rule.values)) {
      problems.push(`${e.from} → ${e.to}: ${from} imports types only from here (\`import type\`): ${rule.why}`)
    }
    const a = tierOf.get(from)
    const b = tierOf.get(to)
    if (a !== undefined && b !== undefined && b > a) {
      problems.push(`${e.from} → ${e.to}: ${describe(from)} may not import ${describe(to)}, a higher tier`)
    }
    const out = moduleEdges.get(from) ?? new Map<string, Edge>()
    if (!out.has(to)) out.set(to, e)
    moduleEdges.set(from, out)
  }

  for (const cycle of cycles(new Map([...moduleEdges].map(([m, out]) => [m, [...out.keys()]])))) {
    const hops = cycle.map((m, i) => {
      const e = moduleEdges.get(m)?.get(cycle[(i + 1) % cycle.length] as string)
      return e ? `${e.from} → ${e.to}` : ''
    })
    problems.push(`cycle between modules ${[...cycle, cycle[0]].join(' → ')}: ${hops.join('; ')}`)
  }
  const fileEdges = new Map<string, string[]>()
  for (const e of graph.edges) fileEdges.set(e.from, [...(fileEdges.get(e.from) ?? []), e.to])
  for (const cycle of cycles(fileEdges)) problems.push(`cycle between files ${[...cycle, cycle[0]].join(' → ')}`)
  return problems
}

/**
 * One cycle through each strongly connected component of `graph` with more than one node, or
 * a node importing itself (Tarjan's algorithm, then a path back to the component's first node).
 */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const connect = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v) as number)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string | undefined
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component)
    }
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v)
  return components.map((component) => {
    const members = new Set(component)
    const start = [...component].sort()[0] as string
    // Breadth-first from start's successors back to start, inside the component: a shortest cycle.
    const prev = new Map<string, string>()
    const queue = [start]
    while (queue.length > 0) {
      const v = queue.shift() as string
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w) || prev.has(w)) continue
        prev.set(w, v)
        if (w === start) queue.length = 0
        else queue.push(w)
      }
    }
    const path = [start]
    for (let v = prev.get(start) as string; v !== start; v = prev.get(v) as string) path.splice(1, 0, v)
    return path
  })
}
