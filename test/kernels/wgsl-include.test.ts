/**
 * The WGSL include step (src/kernels/wgsl-include.ts) on a scratch shaders folder: splicing in
 * place, once per file, paths resolved inside the folder only, and the errors for a missing file,
 * a cycle, a path that leaves the folder and a misspelt directive. Then the project's own shaders:
 * every kernel splices, and each shared helper is written once, in shaders/lib/. No GPU needed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { shaderDir, shaderNames } from '../../src/kernels/shaders.js'
import { readFrom, spliceIncludes } from '../../src/kernels/wgsl-include.js'

const roots: string[] = []
afterAll(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
})

/** A shaders folder holding `files` (relative path → text); returns the splice of `entry` and the files read. */
function splice(files: Record<string, string>, entry = 'k.wgsl'): { code: string; reads: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'lastmile-wgsl-'))
  roots.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  const reads: string[] = []
  const read = readFrom(root)
  const code = spliceIncludes(entry, (p) => {
    reads.push(p)
    return read(p)
  })
  return { code, reads }
}

describe('WGSL include step', () => {
  it('splices an include in place of its directive, nested includes too, marked where they begin and end', () => {
    const { code } = splice({
      'k.wgsl': 'fn top() {}\n//! include "lib/a.wgsl"\nfn bottom() {}\n',
      'lib/a.wgsl': '//! include "lib/deeper/b.wgsl"\nfn a() {}\n',
      'lib/deeper/b.wgsl': 'fn b() {}\n',
    })
    expect(code).toBe(
      [
        'fn top() {}',
        '// begin include "lib/a.wgsl"',
        '// begin include "lib/deeper/b.wgsl"',
        'fn b() {}',
        '// end include "lib/deeper/b.wgsl"',
        'fn a() {}',
        '// end include "lib/a.wgsl"',
        'fn bottom() {}',
        '',
      ].join('\n'),
    )
  })

  it('splices a file included twice (directly and through another file) once, where it first appears', () => {
    const { code, reads } = splice({
      'k.wgsl': '//! include "lib/rank.wgsl"\n//! include "lib/nan.wgsl"\nfn main() {}\n',
      'lib/rank.wgsl': '//! include "lib/nan.wgsl"\nfn before() {}\n',
      'lib/nan.wgsl': 'fn is_nan() {}\n',
    })
    expect(code.match(/fn is_nan\(\)/g)).toHaveLength(1)
    expect(code.indexOf('fn is_nan()')).toBeLessThan(code.indexOf('fn before()'))
    expect(code).toContain('// include "lib/nan.wgsl": spliced above\nfn main() {}')
    expect(reads).toEqual(['k.wgsl', 'lib/rank.wgsl', 'lib/nan.wgsl'])
  })

  it('resolves every path from the shaders folder, whichever file holds the directive', () => {
    const { code } = splice({
      'k.wgsl': '//! include "lib/a.wgsl"\n',
      'lib/a.wgsl': '//! include "lib/b.wgsl"\n',
      'lib/b.wgsl': 'fn b() {}\n',
      'lib/lib/b.wgsl': 'fn wrong() {}\n',
    })
    expect(code).toContain('fn b() {}')
    expect(code).not.toContain('wrong')
  })

  it('names the including file and line when the included file does not exist', () => {
    expect(() => splice({ 'k.wgsl': 'fn x() {}\n//! include "lib/missing.wgsl"\n' })).toThrow(
      'WGSL k.wgsl:2: cannot include "lib/missing.wgsl": no such file in the shaders folder',
    )
    expect(() =>
      splice({ 'k.wgsl': '//! include "lib/a.wgsl"\n', 'lib/a.wgsl': '\n\n//! include "lib/gone.wgsl"\n' }),
    ).toThrow('WGSL lib/a.wgsl:3: cannot include "lib/gone.wgsl"')
  })

  it('refuses a cycle, naming the chain, and a file that includes itself', () => {
    expect(() =>
      splice({
        'k.wgsl': '//! include "lib/a.wgsl"\n',
        'lib/a.wgsl': '//! include "lib/b.wgsl"\n',
        'lib/b.wgsl': 'fn b() {}\n//! include "lib/a.wgsl"\n',
      }),
    ).toThrow('WGSL lib/b.wgsl:2: include cycle k.wgsl -> lib/a.wgsl -> lib/b.wgsl -> lib/a.wgsl')
    expect(() => splice({ 'k.wgsl': '//! include "k.wgsl"\n' })).toThrow('include cycle k.wgsl -> k.wgsl')
  })

  it('never reads a path that could leave the shaders folder or is not a .wgsl file', () => {
    for (const bad of ['../k.wgsl', '/etc/passwd', 'lib/../../x.wgsl', './lib/a.wgsl', 'Lib/A.wgsl', 'lib/a.txt', '']) {
      let reads: string[] = []
      expect(() => {
        reads = splice({ 'k.wgsl': `//! include "${bad}"\n`, 'lib/a.wgsl': '' }).reads
      }, bad).toThrow(`WGSL k.wgsl:1: cannot include "${bad}": a path inside the shaders folder`)
      expect(reads).toEqual([])
    }
  })

  it('refuses a misspelt or malformed directive instead of leaving its functions out', () => {
    for (const line of ['//! includ "lib/a.wgsl"', '//! include lib/a.wgsl', '//!include "lib/a.wgsl"', '//! pragma']) {
      expect(() => splice({ 'k.wgsl': `fn x() {}\n  ${line}\n`, 'lib/a.wgsl': '' }), line).toThrow(
        `WGSL k.wgsl:2: unknown directive '${line}'`,
      )
    }
    // Ordinary comments are not directives.
    expect(splice({ 'k.wgsl': '// include "lib/a.wgsl"\n/// doc\n' }).code).toBe('// include "lib/a.wgsl"\n/// doc\n')
  })
})

describe("the project's shaders", () => {
  it('every kernel splices, and no directive is left in what the GPU compiles', () => {
    for (const name of shaderNames()) {
      const code = spliceIncludes(`${name}.wgsl`, readFrom(shaderDir()))
      expect(code, name).not.toMatch(/^\s*\/\/!/m)
    }
  })

  it('argmax, top-k and softmax share the workgroup reductions and NaN helpers of shaders/lib', () => {
    for (const name of ['argmax', 'topk', 'softmax']) {
      const raw = readFileSync(join(shaderDir(), `${name}.wgsl`), 'utf8')
      expect(raw, name).toContain('//! include "lib/reduce.wgsl"')
      const code = spliceIncludes(`${name}.wgsl`, readFrom(shaderDir()))
      for (const fn of ['is_nan', 'before', 'workgroup_best', 'workgroup_max', 'workgroup_sum']) {
        expect(code.match(new RegExp(`\\bfn ${fn}\\(`, 'g')), `${name}: fn ${fn}`).toHaveLength(1)
      }
    }
  })

  it('each helper of shaders/lib is defined there only, not copied into a kernel', () => {
    const lib = join(shaderDir(), 'lib')
    const helpers = readdirSync(lib).flatMap((f) =>
      [...readFileSync(join(lib, f), 'utf8').matchAll(/\bfn (\w+)\(/g)].map((m) => m[1] as string),
    )
    expect(helpers).toEqual(expect.arrayContaining(['is_nan', 'nan', 'before', 'workgroup_best']))
    for (const name of shaderNames()) {
      const raw = readFileSync(join(shaderDir(), `${name}.wgsl`), 'utf8')
      for (const fn of helpers) expect(raw, `${name}.wgsl defines ${fn}`).not.toMatch(new RegExp(`\\bfn ${fn}\\(`))
    }
  })
})
