/**
 * WGSL has no includes, so kernels that share helpers (the NaN test, the rank order of argmax and
 * top-k, workgroup reductions) name them with a directive line, spliced here when the shader loads:
 *
 *     //! include "lib/reduce.wgsl"
 *
 * The path is relative to the shaders folder, whatever file the directive sits in, and may only
 * name `.wgsl` files below it (lower-case letters, digits and `-`, folders split by `/`): nothing
 * outside that folder is ever read. A file is spliced once, where it is first included; a later
 * directive for it is left as a comment. A cycle is refused, as is any other line starting `//!`
 * (a misspelt directive would otherwise compile to missing functions far from the typo).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const DIRECTIVE = /^\s*\/\/!/
const INCLUDE = /^\s*\/\/! include "([^"]*)"\s*$/
const PATH = /^[a-z0-9-]+(\/[a-z0-9-]+)*\.wgsl$/

/** Reads a file of the shaders folder by its relative path (a seam for tests). */
export type ReadShaderFile = (path: string) => string

/** The file reader for the shaders folder at `root`. */
export function readFrom(root: string): ReadShaderFile {
  return (path) => readFileSync(join(root, path), 'utf8')
}

/**
 * `file` (a path relative to the shaders folder) with every include directive replaced by the
 * file it names, recursively. Throws naming the including file on a bad path, a missing file, a
 * cycle or an unknown `//!` directive.
 *
 * @example spliceIncludes('argmax.wgsl', readFrom(shaderDir()))
 */
export function spliceIncludes(file: string, read: ReadShaderFile): string {
  const spliced = new Set<string>()
  const expand = (path: string, stack: readonly string[]): string => {
    spliced.add(path)
    const chain = [...stack, path]
    return read(path)
      .split('\n')
      .map((line, i) => {
        if (!DIRECTIVE.test(line)) return line
        const where = `${path}:${i + 1}`
        const target = INCLUDE.exec(line)?.[1]
        if (target === undefined) {
          throw new Error(`WGSL ${where}: unknown directive '${line.trim()}' (expected //! include "lib/<name>.wgsl")`)
        }
        if (!PATH.test(target)) {
          throw new Error(
            `WGSL ${where}: cannot include "${target}": a path inside the shaders folder ([a-z0-9-] names split by '/', ending .wgsl) is expected`,
          )
        }
        if (chain.includes(target)) {
          throw new Error(`WGSL ${where}: include cycle ${[...chain, target].join(' -> ')}`)
        }
        if (spliced.has(target)) return `// include "${target}": spliced above`
        let body: string
        try {
          body = expand(target, chain)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
          throw new Error(`WGSL ${where}: cannot include "${target}": no such file in the shaders folder`)
        }
        return `// begin include "${target}"\n${body.replace(/\n$/, '')}\n// end include "${target}"`
      })
      .join('\n')
  }
  return expand(file, [])
}
