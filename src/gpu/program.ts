/**
 * What a kernel wrapper hands to the GPU context: which shader, its compile-time constants (the
 * pipeline cache key), its uniform values and buffer bindings by WGSL variable name, and the
 * dispatch size. Binding numbers and uniform layouts are read from the WGSL (reflection), never
 * written by hand.
 */
import type { ShaderDataDefinitions } from 'webgpu-utils'

/** A WGSL source (includes spliced) with its reflected bindings and uniform layouts. */
export interface ShaderSource {
  readonly name: string
  /**
   * The source handed to the GPU and to reflection: the shader file with its includes spliced.
   * The module and pipeline caches key on it.
   */
  readonly code: string
  readonly defs: ShaderDataDefinitions
}

export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number }

export interface Program {
  readonly shader: ShaderSource
  /** Shown in GPU errors and captures. */
  readonly label: string
  /** WGSL `override` values: compile-time choices only (workgroup size, modes), never shapes. */
  readonly constants?: Readonly<Record<string, number>>
  /** Values for the shader's uniform struct variable `params`, by field name. */
  readonly uniforms?: Readonly<Record<string, unknown>>
  /** Storage buffers by WGSL variable name. */
  readonly bindings: Readonly<Record<string, Binding>>
  /** Buffers zeroed before the dispatch (e.g. atomic counters). */
  readonly clear?: readonly GPUBuffer[]
  /** Workgroups in x, y, z (use `grid()` to fold large counts into y). */
  readonly workgroups: readonly [number, number, number]
}

/** The largest workgroup count per dimension WebGPU guarantees. */
const MAX_WORKGROUPS_PER_DIM = 65535

/**
 * Spread `count` workgroups over x and y so neither exceeds the per-dimension limit. Shaders
 * recover the linear index as `wid.x + wid.y * nwg.x` and skip indices ≥ count.
 */
export function grid(count: number): [number, number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIM) return [Math.max(1, count), 1, 1]
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIM)
  return [Math.ceil(count / y), y, 1]
}
