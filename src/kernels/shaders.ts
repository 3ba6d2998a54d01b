/**
 * Loads `shaders/<name>.wgsl` (found by walking up from this module, so it works from src/ under
 * vitest and from dist/src/ once built), splices its `//! include` directives (wgsl-include.ts),
 * and reflects the spliced source's bindings and uniform layouts with webgpu-utils. Reflection
 * needs the WebGPU globals, which the GPU runtime installs.
 */
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeShaderDataDefinitions, type ShaderDataDefinitions } from 'webgpu-utils'
import type { ShaderSource } from '../gpu/program.js'
import { readFrom, spliceIncludes } from './wgsl-include.js'

let dir: string | undefined

/** The project's `shaders/` folder. */
export function shaderDir(): string {
  if (dir) return dir
  let d = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'shaders')) && existsSync(join(d, 'package.json'))) {
      dir = join(d, 'shaders')
      return dir
    }
    d = dirname(d)
  }
  throw new Error(`lastmile: cannot find the shaders/ folder above ${fileURLToPath(import.meta.url)}`)
}

/** Names of every kernel shader (file names without `.wgsl`; the shared helpers in lib/ are not kernels). */
export function shaderNames(): string[] {
  return readdirSync(shaderDir())
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => f.slice(0, -'.wgsl'.length))
    .sort()
}

const cache = new Map<string, ShaderSource>()

/**
 * The shader `name` of the folder `root` (the project's shaders/ unless a test gives another)
 * with its includes spliced, read once; reflection runs on the spliced source on first access to
 * `defs`.
 */
export function loadShader(name: string, root: string = shaderDir()): ShaderSource {
  const id = join(root, name)
  let s = cache.get(id)
  if (!s) {
    const code = spliceIncludes(`${name}.wgsl`, readFrom(root))
    let defs: ShaderDataDefinitions | undefined
    s = {
      name,
      code,
      get defs() {
        defs ??= makeShaderDataDefinitions(code)
        return defs
      },
    }
    cache.set(id, s)
  }
  return s
}
