/**
 * Fused tabular pre-processing (shaders/tabular-preprocess.wgsl): per input column, impute NaN,
 * clip, then standardize or min-max scale, or expand a categorical code into one-hot columns.
 * `compileTabular` turns the step's spec into per-output-column recipes; the CPU twin applies
 * the same recipes.
 */
import { InvalidConfigError } from '../errors.js'
import { grid, type Program } from '../gpu/program.js'
import { checkMatrix } from './row-kernels.js'
import { loadShader } from './shaders.js'

/** One input column's treatment, in input-column order. An empty object passes the column through. */
export interface TabularFeature {
  standardize?: { mean: number; std: number }
  minmax?: { min: number; max: number }
  /** Category codes; the column becomes one 0/1 column per code, in this order. */
  onehot?: number[]
  /** Replacement for NaN: a number, or "mean" (the standardize mean). */
  impute?: number | 'mean'
  /** Bounds applied after imputation, before scaling, in the column's own units. */
  clip?: [number, number]
}

export interface TabularSpec {
  features: TabularFeature[]
}

/** Field order of WGSL `struct Column` (each 4 bytes; tested against reflection). */
export const COLUMN_FIELDS = ['src', 'kind', 'category', 'impute', 'lo', 'hi', 'shift', 'div'] as const
export const COLUMN_STRIDE = COLUMN_FIELDS.length * 4

export interface CompiledTabular {
  inCols: number
  outCols: number
  /** COLUMN_FIELDS per output column; `src` and `kind` are u32, the rest f32. */
  recipes: ArrayBuffer
}

/** Validate a spec and build the recipes. Throws {@link InvalidConfigError} naming the feature. */
export function compileTabular(spec: TabularSpec): CompiledTabular {
  if (spec.features.length === 0) throw new InvalidConfigError('tabular: features must list at least one input column')
  const rows: number[][] = []
  spec.features.forEach((f, src) => {
    const where = `tabular: feature ${src}`
    const scalings = [f.standardize, f.minmax, f.onehot].filter((x) => x !== undefined).length
    if (scalings > 1) throw new InvalidConfigError(`${where}: use one of standardize, minmax, onehot`)
    let impute = Number.NaN
    if (f.impute === 'mean') {
      if (!f.standardize) throw new InvalidConfigError(`${where}: impute "mean" needs standardize.mean`)
      impute = f.standardize.mean
    } else if (f.impute !== undefined) impute = f.impute
    const [lo, hi] = f.clip ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]
    if (!(lo <= hi))
      throw new InvalidConfigError(`${where}: clip needs [low, high] with low <= high, got [${lo}, ${hi}]`)
    if (f.onehot) {
      if (f.onehot.length === 0 || new Set(f.onehot).size !== f.onehot.length || !f.onehot.every(Number.isFinite)) {
        throw new InvalidConfigError(`${where}: onehot needs distinct, finite category codes`)
      }
      for (const code of f.onehot) rows.push([src, 1, code, impute, lo, hi, 0, 1])
      return
    }
    let shift = 0
    let div = 1
    if (f.standardize) {
      if (!(f.standardize.std > 0)) throw new InvalidConfigError(`${where}: standardize.std must be > 0`)
      shift = f.standardize.mean
      div = f.standardize.std
    } else if (f.minmax) {
      if (!(f.minmax.max > f.minmax.min)) throw new InvalidConfigError(`${where}: minmax needs max > min`)
      shift = f.minmax.min
      div = f.minmax.max - f.minmax.min
    }
    rows.push([src, 0, 0, impute, lo, hi, shift, div])
  })
  const recipes = new ArrayBuffer(rows.length * COLUMN_STRIDE)
  const u = new Uint32Array(recipes)
  const f = new Float32Array(recipes)
  rows.forEach((r, i) => {
    const o = i * COLUMN_FIELDS.length
    u[o] = r[0] as number
    u[o + 1] = r[1] as number
    for (let k = 2; k < COLUMN_FIELDS.length; k++) f[o + k] = r[k] as number
  })
  return { inCols: spec.features.length, outCols: rows.length, recipes }
}

const WG = 256

export function tabularProgram(a: {
  rows: number
  plan: CompiledTabular
  raw: GPUBuffer
  columns: GPUBuffer
  features: GPUBuffer
}): Program {
  checkMatrix('tabular pre-processing', a.rows, a.plan.inCols)
  return {
    shader: loadShader('tabular-preprocess'),
    label: `tabular [${a.rows},${a.plan.inCols}]→[${a.rows},${a.plan.outCols}]`,
    constants: { WG },
    uniforms: { rows: a.rows, in_cols: a.plan.inCols, out_cols: a.plan.outCols },
    bindings: { raw: a.raw, columns: a.columns, features: a.features },
    workgroups: grid(Math.ceil((a.rows * a.plan.outCols) / WG)),
  }
}

/** The same recipes on the CPU, float32 arithmetic as on the GPU. */
export function tabularCpu(raw: Float32Array, rows: number, plan: CompiledTabular): Float32Array {
  checkMatrix('tabular pre-processing', rows, plan.inCols, raw.length)
  const u = new Uint32Array(plan.recipes)
  const f = new Float32Array(plan.recipes)
  const out = new Float32Array(rows * plan.outCols)
  const n = COLUMN_FIELDS.length
  // Stryker disable next-line EqualityOperator: one row past the end reads an empty subarray or undefined and writes out of range, which typed arrays drop
  for (let r = 0; r < rows; r++) {
    // Stryker disable next-line EqualityOperator: column outCols is the next row's first, which that row overwrites (past the last row: dropped)
    for (let j = 0; j < plan.outCols; j++) {
      const o = j * n
      let x = raw[r * plan.inCols + (u[o] as number)] as number
      if (Number.isNaN(x)) x = f[o + 3] as number
      let y: number
      if (u[o + 1] === 1) y = x === f[o + 2] ? 1 : 0
      // A NaN left (no impute value) stays NaN through the clip and the scale.
      else
        y = Math.fround(
          Math.fround(Math.min(Math.max(x, f[o + 4] as number), f[o + 5] as number) - (f[o + 6] as number)) /
            (f[o + 7] as number),
        )
      out[r * plan.outCols + j] = y
    }
  }
  return out
}
