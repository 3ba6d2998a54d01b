/**
 * Input validation against a model's declared inputs, so that bad requests fail with a message
 * that names the input, what was given and what was expected — before any runtime sees them.
 */
import { InvalidInputError } from '../errors.js'
import {
  type AnyTensor,
  bytesPerElement,
  type ColumnSpec,
  type Dim,
  type DType,
  elementCount,
  formatShape,
  type TensorSpec,
} from './tensor.js'
import { type DeviceTensor, isDeviceTensor } from './types.js'

const EXPECTED_ARRAY: Record<string, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  float16: 'Uint16Array',
  int8: 'Int8Array',
  uint8: 'Uint8Array',
  int16: 'Int16Array',
  uint16: 'Uint16Array',
  int32: 'Int32Array',
  uint32: 'Uint32Array',
  int64: 'BigInt64Array',
  uint64: 'BigUint64Array',
  bool: 'Uint8Array',
  string: 'Array',
}

/**
 * Check `feeds` against `specs`: every input present and no unknown ones, dtypes equal, ranks
 * equal, fixed dims equal, a symbolic dim bound to one size across inputs, and data length equal
 * to the shape's element count. Throws {@link InvalidInputError}.
 */
export function validateFeeds(
  specs: readonly (TensorSpec | ColumnSpec)[],
  feeds: Record<string, AnyTensor | DeviceTensor>,
): void {
  const expected = specs.map((s) => `'${s.name}' ${s.dtype}${formatShape(s.shape)}`).join(', ')
  for (const name of Object.keys(feeds)) {
    if (!specs.some((s) => s.name === name)) {
      throw new InvalidInputError(`unknown input '${name}'; the model's inputs are ${expected}`, { input: name })
    }
  }
  const bound = new Map<string, { size: number; input: string }>()
  for (const spec of specs) {
    const t = feeds[spec.name]
    if (!t)
      throw new InvalidInputError(`missing input '${spec.name}'; the model's inputs are ${expected}`, {
        input: spec.name,
      })
    if (t.dtype !== spec.dtype) {
      throw new InvalidInputError(`input '${spec.name}' has dtype ${t.dtype}, the model expects ${spec.dtype}`, {
        input: spec.name,
        given: t.dtype,
        expected: spec.dtype,
      })
    }
    checkShape(spec, t.dims, bound)
    const n = elementCount(t.dims)
    if (isDeviceTensor(t)) {
      if (t.buffer.size < n * bytesPerElement(t.dtype as DType)) {
        throw new InvalidInputError(
          `input '${spec.name}': GPU buffer of ${t.buffer.size} B is too small for ${formatShape(t.dims)}`,
        )
      }
      continue
    }
    const arrayName = EXPECTED_ARRAY[t.dtype] as string
    if (t.data?.constructor?.name !== arrayName) {
      throw new InvalidInputError(`input '${spec.name}' of dtype ${t.dtype} must hold a ${arrayName}`, {
        input: spec.name,
      })
    }
    if (t.data.length !== n) {
      throw new InvalidInputError(
        `input '${spec.name}' has ${t.data.length} values for shape ${formatShape(t.dims)}, which needs ${n}`,
        { input: spec.name },
      )
    }
  }
}

function checkShape(
  spec: TensorSpec | ColumnSpec,
  dims: readonly number[],
  bound: Map<string, { size: number; input: string }>,
): void {
  const mismatch = (why: string) =>
    new InvalidInputError(
      `input '${spec.name}' has shape ${formatShape(dims)}, the model expects ${formatShape(spec.shape)}${why}`,
      { input: spec.name, given: [...dims], expected: [...spec.shape] },
    )
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw mismatch(' (dims must be non-negative integers)')
  // onnxruntime reports an undeclared shape and a scalar alike as []: leave those to the runtime.
  if (spec.shape.length === 0) return
  if (dims.length !== spec.shape.length) throw mismatch(` (rank ${dims.length}, expected ${spec.shape.length})`)
  spec.shape.forEach((want: Dim, i) => {
    const got = dims[i] as number
    if (typeof want === 'number') {
      if (want >= 0 && got !== want) throw mismatch(` (dim ${i} is ${got}, expected ${want})`)
      return
    }
    if (want === '' || want === '?') return
    const prev = bound.get(want)
    if (prev && prev.size !== got) {
      throw mismatch(` (dim '${want}' is ${got} here but ${prev.size} in input '${prev.input}')`)
    }
    bound.set(want, { size: got, input: spec.name })
  })
}
