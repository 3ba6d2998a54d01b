/**
 * Host tensors as the engine passes them around: a dtype, dims and a typed array in row-major
 * order. Backends convert to and from their own tensor classes at the edge.
 */

/** Element types the engine accepts, named as onnxruntime names them. */
export const DTYPES = [
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
] as const
export type DType = (typeof DTYPES)[number]

/** The typed array that holds each dtype (float16 travels as raw IEEE half bits; bool as 0/1 bytes). */
export interface TypedArrayByDType {
  float32: Float32Array
  float64: Float64Array
  float16: Uint16Array
  int8: Int8Array
  uint8: Uint8Array
  int16: Int16Array
  uint16: Uint16Array
  int32: Int32Array
  uint32: Uint32Array
  int64: BigInt64Array
  uint64: BigUint64Array
  bool: Uint8Array
}
export type TensorArray = TypedArrayByDType[DType]

type ArrayCtor = { new (length: number): TensorArray; BYTES_PER_ELEMENT: number }
const CTORS: Record<DType, ArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
}

/** A dense row-major tensor in host memory. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D
  readonly dims: readonly number[]
  readonly data: TypedArrayByDType[D]
}

/** Strings (class names) travel beside the numeric tensors, row-major like them. */
export interface StringTensor {
  readonly dtype: 'string'
  readonly dims: readonly number[]
  readonly data: string[]
}

/** Any tensor a pipeline answers with. */
export type AnyTensor = HostTensor | StringTensor

/** A dimension of a model's input or output: a size, or a symbolic name such as `"N"`. */
export type Dim = number | string

/** Name, dtype and shape of one model input or output (symbolic dims stay strings). */
export interface TensorSpec {
  readonly name: string
  readonly dtype: DType
  readonly shape: readonly Dim[]
}

/** A pipeline column: a tensor spec whose dtype may also be `string` (class names, routing keys). */
export interface ColumnSpec {
  readonly name: string
  readonly dtype: DType | 'string'
  readonly shape: readonly Dim[]
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x)
}

/** Number of elements for `dims` (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

/** A typed array class, as {@link concatTyped} takes it. */
type ArrayKind<T extends TensorArray> = new (length: number) => T

/** The typed array class that holds `dtype`. */
export function arrayKind<D extends DType>(dtype: D): ArrayKind<TypedArrayByDType[D]> {
  return CTORS[dtype] as unknown as ArrayKind<TypedArrayByDType[D]>
}

/**
 * `parts` one after another in a new array of kind `Kind` (each part must hold values of that
 * kind: numbers, or bigints for the 64-bit integer arrays). The one place typed arrays are joined.
 *
 * @example concatTyped(Float64Array, [a, b])
 */
export function concatTyped<T extends TensorArray>(
  Kind: ArrayKind<T>,
  parts: readonly ArrayLike<number | bigint>[],
): T {
  const out = new Kind(parts.reduce((n, p) => n + p.length, 0))
  const into = out as unknown as { set(values: ArrayLike<number | bigint>, offset: number): void }
  let at = 0
  for (const p of parts) {
    into.set(p, at)
    at += p.length
  }
  return out
}

/** Bytes per element of `dtype`. */
export function bytesPerElement(dtype: DType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT
}

/** A zero-filled host tensor. */
export function zeros<D extends DType>(dtype: D, dims: readonly number[]): HostTensor<D> {
  const data = new CTORS[dtype](elementCount(dims)) as TypedArrayByDType[D]
  return { dtype, dims: [...dims], data }
}

/**
 * A host tensor from plain numbers (bigints for 64-bit integer dtypes are also accepted).
 *
 * @example tensor('float32', [2, 2], [1, 2, 3, 4])
 */
export function tensor<D extends DType>(
  dtype: D,
  dims: readonly number[],
  values: ArrayLike<number | bigint | boolean>,
): HostTensor<D> {
  const t = zeros(dtype, dims)
  if (values.length !== t.data.length) {
    throw new RangeError(`tensor of shape [${dims.join(',')}] needs ${t.data.length} values, got ${values.length}`)
  }
  const big = dtype === 'int64' || dtype === 'uint64'
  const out = t.data as unknown as { [i: number]: number | bigint }
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number | bigint | boolean
    out[i] = big ? BigInt(typeof v === 'boolean' ? Number(v) : v) : Number(v)
  }
  return t
}

/** Format a shape for error messages, e.g. `[N,16]`. */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(',')}]`
}
