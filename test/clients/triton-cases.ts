/**
 * The datatype cases the client tests send through an Identity model per datatype: values chosen
 * at each type's extremes (and, for the 64-bit ones, past 2^53), written out by hand.
 */
import type { DType } from '../../src/engine/tensor.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import type { NpArray } from './triton-client.js'

/** Per datatype: the engine dtype and 2 × 2 values, extremes first, in row-major order. */
export const CASES: Array<[string, DType, NpArray['values'], unknown[]]> = [
  ['BOOL', 'bool', [true, false, false, true], [true, false, false, true]],
  ['UINT8', 'uint8', [255, 0, 7, 128], [255, 0, 7, 128]],
  ['UINT16', 'uint16', [65535, 0, 300, 1], [65535, 0, 300, 1]],
  ['UINT32', 'uint32', [4294967295, 0, 70000, 5], [4294967295, 0, 70000, 5]],
  [
    'UINT64',
    'uint64',
    [18446744073709551615n, 0n, 9007199254740993n, 42n],
    [18446744073709551615n, 0n, 9007199254740993n, 42n],
  ],
  ['INT8', 'int8', [-128, 127, -1, 0], [-128, 127, -1, 0]],
  ['INT16', 'int16', [-32768, 32767, -300, 2], [-32768, 32767, -300, 2]],
  ['INT32', 'int32', [-2147483648, 2147483647, -70000, 3], [-2147483648, 2147483647, -70000, 3]],
  [
    'INT64',
    'int64',
    [-9223372036854775808n, 9223372036854775807n, -9007199254740993n, 4n],
    [-9223372036854775808n, 9223372036854775807n, -9007199254740993n, 4n],
  ],
  // FP16 values as the halves' bits (numpy float16), expected as their values.
  ['FP16', 'float16', [0x3c00, 0xc000, 0x3800, 0x7bff], [1, -2, 0.5, 65504]],
  [
    'FP32',
    'float32',
    [0.1, -3.5, 1e-45, 3.4028234663852886e38],
    [0.10000000149011612, -3.5, 1.401298464324817e-45, 3.4028234663852886e38],
  ],
  ['FP64', 'float64', [0.1, -1e300, 5e-324, 123456.789], [0.1, -1e300, 5e-324, 123456.789]],
]

export const lower = (datatype: string) => datatype.toLowerCase()

/** An Identity model per datatype: x_<type> [N, 2] → y_<type>. */
export function identities(): Uint8Array {
  const g = new GraphBuilder('identities')
  for (const [datatype, dtype] of CASES) {
    const x = g.input(`x_${lower(datatype)}`, dtype, ['N', 2])
    g.output(x, dtype, ['N', 2], `y_${lower(datatype)}`)
  }
  return g.toModel()
}

/** The numpy array a test sends for `datatype`. */
export const array = (datatype: string): NpArray => {
  const c = CASES.find(([d]) => d === datatype) as (typeof CASES)[number]
  return { datatype, shape: [2, 2], values: datatype === 'FP32' ? c[2].map((v) => Math.fround(v as number)) : c[2] }
}
export const expected = (datatype: string) => (CASES.find(([d]) => d === datatype) as (typeof CASES)[number])[3]

/** Values as Python would compare them: ints (of either JS kind) as bigints. */
export const py = (datatype: string, values: unknown[]) =>
  /INT/.test(datatype) ? values.map((v) => BigInt(v as number | bigint)) : values
