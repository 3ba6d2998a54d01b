/**
 * src/'s imports point one way: each module imports its own tier and those below (the tiers and
 * the reasons are in test/helpers/import-graph.ts), nothing in src/ imports test/, and no cycles
 * between modules or files. The checker itself is tried on small graphs first.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { checkGraph, cycles, type Edge, importsOf, moduleOf, readGraph, TIERS } from './helpers/import-graph.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const edge = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly })

describe('import graph reader', () => {
  it('reads imports, re-exports, dynamic imports and import types, telling type-only ones apart', () => {
    const text = [
      "import { a } from './a.js'",
      "import type { B } from '../b.js'",
      "import { type C, type D } from './c.js'",
      "import { type E, f } from './e.js'",
      "import g from './g.js'",
      "export { h } from './h.js'",
      "export type { I } from './i.js'",
      "export * from './j.js'",
      "const k = await import('./k.js')",
      "let l: import('./l.js').L",
      "import 'node:fs'",
      "const url = new URL('./worker.js', import.meta.url)",
    ].join('\n')
    expect(importsOf('src/x/y.ts', text)).toEqual([
      { specifier: './a.js', typeOnly: false },
      { specifier: '../b.js', typeOnly: true },
      { specifier: './c.js', typeOnly: true },
      { specifier: './e.js', typeOnly: false },
      { specifier: './g.js', typeOnly: false },
      { specifier: './h.js', typeOnly: false },
      { specifier: './i.js', typeOnly: true },
      { specifier: './j.js', typeOnly: false },
      { specifier: './k.js', typeOnly: false },
      { specifier: './l.js', typeOnly: true },
      { specifier: 'node:fs', typeOnly: false },
    ])
  })

  it('places files in modules: root files alone, a listed subfolder apart from its parent', () => {
    expect(moduleOf('src/config.ts')).toBe('config.ts')
    expect(moduleOf('src/jobs/io/csv.ts')).toBe('jobs/io')
    expect(moduleOf('src/jobs/runner.ts')).toBe('jobs')
    expect(moduleOf('src/server/routes/v2.ts')).toBe('server')
    expect(moduleOf('test/helpers/server.ts')).toBeUndefined()
  })
})

describe('import rule checker', () => {
  const files = ['src/errors.ts', 'src/engine/a.ts', 'src/serving/b.ts', 'src/logs/c.ts', 'src/client/d.ts']

  it('holds for imports that point down or stay in a tier', () => {
    const edges = [edge('src/serving/b.ts', 'src/engine/a.ts'), edge('src/engine/a.ts', 'src/errors.ts')]
    expect(checkGraph({ files, edges })).toEqual([])
  })

  it('names an import that points up a tier', () => {
    const problems = checkGraph({ files, edges: [edge('src/logs/c.ts', 'src/serving/b.ts', true)] })
    expect(problems).toEqual([
      'src/logs/c.ts → src/serving/b.ts: logs (tier 3 "steps") may not import serving (tier 4 "serving"), a higher tier',
    ])
  })

  it('names an import of test/ from src/, however deep the file', () => {
    const problems = checkGraph({
      files: [...files, 'src/jobs/io/e.ts'],
      edges: [edge('src/jobs/io/e.ts', 'test/helpers/flights.ts')],
    })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^src\/jobs\/io\/e\.ts → test\/helpers\/flights\.ts: src\/ never imports/)
  })

  it('holds the client to the wire schemas (types only) and the media types', () => {
    const problems = checkGraph({
      files: [...files, 'src/wire/w.ts', 'src/formats/media-types.ts', 'src/formats/oip.ts'],
      edges: [
        edge('src/client/d.ts', 'src/wire/w.ts', true),
        edge('src/client/d.ts', 'src/formats/media-types.ts'),
        edge('src/client/d.ts', 'src/wire/w.ts', false),
        edge('src/client/d.ts', 'src/errors.ts', true),
        edge('src/client/d.ts', 'src/formats/oip.ts', true),
      ],
    })
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'src/client/d.ts → src/wire/w.ts',
      'src/client/d.ts → src/errors.ts',
      'src/client/d.ts → src/formats/oip.ts',
    ])
    expect(problems[0]).toContain('types only')
    expect(problems[1]).toContain('imports only wire/, formats/media-types.ts, exact-json.ts')
  })

  it('names a cycle between modules of one tier, with the edge of each hop', () => {
    const problems = checkGraph({
      files,
      edges: [edge('src/engine/a.ts', 'src/kernels/x.ts'), edge('src/kernels/x.ts', 'src/engine/a.ts', true)],
    })
    expect(problems).toEqual([
      'cycle between modules engine → kernels → engine: src/engine/a.ts → src/kernels/x.ts; src/kernels/x.ts → src/engine/a.ts',
      'cycle between files src/engine/a.ts → src/kernels/x.ts → src/engine/a.ts',
    ])
  })

  it('names a type-only cycle between files of one module', () => {
    const problems = checkGraph({
      files,
      edges: [
        edge('src/logs/c.ts', 'src/logs/d.ts', true),
        edge('src/logs/d.ts', 'src/logs/e.ts'),
        edge('src/logs/e.ts', 'src/logs/c.ts', true),
      ],
    })
    expect(problems).toEqual(['cycle between files src/logs/c.ts → src/logs/d.ts → src/logs/e.ts → src/logs/c.ts'])
  })

  it('asks for a tier for a folder the table does not list', () => {
    expect(checkGraph({ files: ['src/console/page.ts'], edges: [] })).toEqual([
      'src/console: a module with no tier; place it in TIERS (test/helpers/import-graph.ts)',
    ])
  })

  it('finds one shortest cycle per tangle, a self-import too', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'a']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['a']],
    ])
    expect(cycles(graph)).toEqual([['a', 'b'], ['d']])
  })
})

describe("src's import graph", () => {
  const graph = readGraph(root)

  it('reads every file of src/ and the imports between them', () => {
    expect(graph.files).toContain('src/server/serve.ts')
    expect(graph.edges).toContainEqual(edge('src/server/serve.ts', 'src/server/app.ts'))
  })

  it('follows the tiers, imports nothing outside src/ and has no cycles', () => {
    expect(checkGraph(graph)).toEqual([])
  })

  it('places every module of src/ in exactly one tier', () => {
    const listed = TIERS.flatMap((t) => t.modules)
    expect(new Set(listed).size).toBe(listed.length)
  })
})
