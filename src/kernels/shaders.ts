/**
 * Loads `shaders/<name>.wgsl` (found by walking up from this module, so it works from src/ under
 * vitest and from dist/src/ once built) and reflects its bindings and uniform layouts with
 * webgpu-utils. Reflection needs the WebGPU globals, which the GPU runtime installs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeShaderDataDefinitions, type ShaderDataDefinitions } from 'webgpu-utils'
import type { ShaderSource } from '../gpu/program.js'

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

/** Names of every shader (file names without `.wgsl`). */
export function shaderNames(): string[] {
  return readdirSync(shaderDir())
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => f.slice(0, -'.wgsl'.length))
    .sort()
}

const cache = new Map<string, ShaderSource>()

/** The shader `name`, read once; reflection runs on first access to `defs`. */
export function loadShader(name: string): ShaderSource {
  let s = cache.get(name)
  if (!s) {
    const code = readFileSync(join(shaderDir(), `${name}.wgsl`), 'utf8')
    let defs: ShaderDataDefinitions | undefined
    s = {
      name,
      code,
      get defs() {
        defs ??= makeShaderDataDefinitions(code)
        return defs
      },
    }
    cache.set(name, s)
  }
  return s
}
