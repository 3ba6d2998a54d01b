/**
 * The kernel planner's reading of one node (src/engine/kernel-plan.ts): its attributes with ONNX's
 * defaults, and the geometry of the ops whose output shape the attributes decide — Conv, the
 * pools, Reshape — each checked, anything outside what the kernels cover reported through `fail`.
 */
import { InvalidInputError } from '../errors.js'
import { type Conv2dShape, conv2dOutSize } from '../kernels/conv2d.js'
import { type Pool2dShape, pool2dOutSize } from '../kernels/pool2d.js'
import { elemTypeName } from '../onnx/builder.js'
import type { OnnxAttr, OnnxInitializer } from '../onnx/graph.js'

/** One node's attributes, read with their defaults; a value of the wrong kind is a `fail`. */
export class NodeAttrs {
  constructor(
    private readonly attrs: Readonly<Record<string, OnnxAttr>>,
    /** Report why the node cannot be planned (throws). */
    readonly fail: (reason: string) => never,
  ) {}

  int(name: string, fallback: number): number {
    const v = this.attrs[name] ?? fallback
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(`attribute ${name} is not an integer`)
    return v
  }

  float(name: string, fallback: number): number {
    const v = this.attrs[name] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`attribute ${name} is not a finite number`)
    return v
  }

  string(name: string, fallback: string): string {
    const v = this.attrs[name] ?? fallback
    if (typeof v !== 'string') this.fail(`attribute ${name} is not a string`)
    return v
  }

  ints(name: string, fallback: number[]): number[] {
    const v = this.attrs[name] ?? fallback
    if (!Array.isArray(v) || !v.every(Number.isInteger)) this.fail(`attribute ${name} is not a list of integers`)
    return v
  }

  /** Two integers (strides, dilations of a 2-D window). */
  pair(name: string, fallback: [number, number]): [number, number] {
    const v = this.ints(name, fallback)
    if (v.length !== 2) this.fail(`attribute ${name} has ${v.length} values (2-D only)`)
    return v as [number, number]
  }

  /** Pads of a 2-D window (top, left, bottom, right), zeros by default; VALID auto_pad means zeros too. */
  pads(op: string): [number, number, number, number] {
    const autoPad = this.string('auto_pad', 'NOTSET')
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') this.fail(`${op} with auto_pad ${autoPad}`)
    const v = autoPad === 'VALID' ? [0, 0, 0, 0] : this.ints('pads', [0, 0, 0, 0])
    if (v.length !== 4) this.fail(`attribute pads has ${v.length} values (2-D only)`)
    return v as [number, number, number, number]
  }

  /** A kernel's own shape check; its InvalidInputError becomes the reason. */
  checked<T>(check: () => T): T {
    try {
      return check()
    } catch (e) {
      if (e instanceof InvalidInputError) this.fail(e.message)
      throw e
    }
  }
}

type Sized<T> = Omit<T, 'batch'> & { outH: number; outW: number }

/** A Conv's geometry from its per-row input [C, H, W] and weight dims [outC, C / group, kH, kW]. */
export function convShape(a: NodeAttrs, input: readonly number[], weight: readonly number[]): Sized<Conv2dShape> {
  const [inC, inH, inW] = input as [number, number, number]
  const [outC, perGroup, kH, kW] = weight as [number, number, number, number]
  const kernel = a.ints('kernel_shape', [kH, kW])
  if (kernel.length !== 2 || kernel[0] !== kH || kernel[1] !== kW) {
    a.fail(`Conv kernel_shape [${kernel.join(', ')}] disagrees with the weight's [${kH}, ${kW}]`)
  }
  const group = a.int('group', 1)
  if (perGroup * group !== inC) {
    a.fail(`Conv weight of ${perGroup} channels per group × group ${group} for an input of ${inC} channels`)
  }
  const shape: Omit<Conv2dShape, 'batch'> = {
    inC,
    inH,
    inW,
    outC,
    kH,
    kW,
    strides: a.pair('strides', [1, 1]),
    pads: a.pads('Conv'),
    dilations: a.pair('dilations', [1, 1]),
    group,
  }
  return { ...shape, ...a.checked(() => conv2dOutSize({ ...shape, batch: 1 })) }
}

/** A MaxPool / AveragePool / GlobalAveragePool's geometry from its per-row input [C, H, W]. */
export function poolShape(a: NodeAttrs, op: string, input: readonly number[]): Sized<Pool2dShape> {
  const [channels, inH, inW] = input as [number, number, number]
  let shape: Omit<Pool2dShape, 'batch'>
  if (op === 'GlobalAveragePool') {
    const none = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] } as Pick<
      Pool2dShape,
      'strides' | 'pads' | 'dilations'
    >
    shape = { mode: 'avg', channels, inH, inW, kH: inH, kW: inW, ...none, countIncludePad: false }
  } else {
    if (a.int('ceil_mode', 0) !== 0) a.fail(`${op} with ceil_mode = 1`)
    const kernel = a.ints('kernel_shape', [])
    if (kernel.length !== 2) a.fail(`${op} with kernel_shape [${kernel.join(', ')}] (2-D only)`)
    const [kH, kW] = kernel as [number, number]
    shape = {
      mode: op === 'MaxPool' ? 'max' : 'avg',
      channels,
      inH,
      inW,
      kH,
      kW,
      strides: a.pair('strides', [1, 1]),
      pads: a.pads(op),
      dilations: a.pair('dilations', [1, 1]),
      countIncludePad: op === 'AveragePool' && a.int('count_include_pad', 0) !== 0,
    }
    // onnxruntime refuses these too ("Pad should be smaller than kernel").
    if (shape.pads.some((p, i) => p >= (i % 2 === 0 ? kH : kW))) a.fail(`${op} with pads as large as the kernel`)
  }
  return { ...shape, ...a.checked(() => pool2dOutSize({ ...shape, batch: 1 })) }
}

/**
 * The per-row shape a Reshape to `target` gives a per-row `input`, when the batch stays first:
 * `[0, …]` copies it, `[-1, …]` infers it (then the rest must hold exactly one row). In the rest,
 * 0 copies the input's dim (allowzero 0) and one -1 is inferred.
 */
export function reshapeShape(a: NodeAttrs, input: readonly number[], target: readonly number[]): number[] {
  const [first, ...rest] = target
  const what = `Reshape to [${target.join(', ')}] of a [batch, ${input.join(', ')}] value`
  if (a.int('allowzero', 0) !== 0 || (first !== 0 && first !== -1) || (first === -1 && rest.includes(-1))) {
    a.fail(`${what} (the batch must stay the first dimension)`)
  }
  const dims = rest.map((d, i) => (d === 0 ? (input[i] ?? Number.NaN) : d))
  const known = dims.filter((d) => d !== -1)
  if (known.some((d) => !Number.isSafeInteger(d) || d < 1) || dims.length - known.length > 1) a.fail(what)
  const whole = size(input)
  const inferred = whole / size(known)
  const shape = dims.map((d) => (d === -1 ? inferred : d))
  if (!Number.isInteger(inferred) || size(shape) !== whole) a.fail(`${what} (rows would change)`)
  return shape
}

/** Elements of a per-row shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1)
}

/** A float32 initializer whose values fill its positive dims. */
export type Weight = OnnxInitializer & { floats: Float32Array }

/** The float32 initializer `name` of `rank` positive dims whose values fill them. */
export function weightOf(
  inits: ReadonlyMap<string, OnnxInitializer>,
  a: NodeAttrs,
  name: string,
  what: string,
  rank?: number,
): Weight {
  const t = inits.get(name)
  if (t === undefined) a.fail(`${what} '${name}' is not an initializer`)
  if (t.dataType !== 1 || t.floats === undefined)
    a.fail(`${what} '${name}' is ${elemTypeName(t.dataType)}, not float32`)
  if (rank !== undefined && t.dims.length !== rank) a.fail(`${what} '${name}' has rank ${t.dims.length}, not ${rank}`)
  if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 1) || t.floats.length !== size(t.dims)) {
    a.fail(`${what} '${name}' has ${t.floats.length} values for dims [${t.dims.join(', ')}]`)
  }
  return t as Weight
}

/** A bias of `n` values: dims [n] or [1, n]; one value for any n when `scalar` (Gemm's broadcast C). */
export function biasOf(
  inits: ReadonlyMap<string, OnnxInitializer>,
  a: NodeAttrs,
  name: string,
  n: number,
  what: string,
  scalar: boolean,
): Float32Array {
  const t = weightOf(inits, a, name, what)
  const ok = (t.dims.length === 1 && t.dims[0] === n) || (t.dims.length === 2 && t.dims[0] === 1 && t.dims[1] === n)
  if (!ok && !(scalar && size(t.dims) === 1))
    a.fail(`${what} '${name}' of dims [${t.dims.join(', ')}] for ${n} outputs`)
  return t.floats
}

/** Whether two shapes are equal. */
export function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/** `text` cut to `max` characters (a hostile model's names may be megabytes). */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}
