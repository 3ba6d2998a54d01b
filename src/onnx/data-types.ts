/**
 * ONNX tensor data types as the model check needs them: bits per element, and which TensorProto
 * field carries a type's values (and how many per element) when raw_data is absent. Numbers
 * follow TensorProto.DataType in https://github.com/onnx/onnx/blob/main/onnx/onnx.proto.
 */
import { type ProtoReader, Wire } from './reader.js'

/** Bits per element of each TensorProto.DataType with a fixed size (STRING = 8 has none). */
export const ELEMENT_BITS: Readonly<Record<number, number>> = {
  1: 32, // FLOAT
  2: 8, // UINT8
  3: 8, // INT8
  4: 16, // UINT16
  5: 16, // INT16
  6: 32, // INT32
  7: 64, // INT64
  9: 8, // BOOL
  10: 16, // FLOAT16
  11: 64, // DOUBLE
  12: 32, // UINT32
  13: 64, // UINT64
  14: 64, // COMPLEX64
  15: 128, // COMPLEX128
  16: 16, // BFLOAT16
  17: 8, // FLOAT8E4M3FN
  18: 8, // FLOAT8E4M3FNUZ
  19: 8, // FLOAT8E5M2
  20: 8, // FLOAT8E5M2FNUZ
  21: 4, // UINT4
  22: 4, // INT4
  23: 4, // FLOAT4E2M1
  24: 8, // FLOAT8E8M0
  25: 2, // UINT2
  26: 2, // INT2
}
/** TensorProto.DataType STRING: no fixed size, values in string_data. */
export const STRING = 8
/** What a dense string element costs onnxruntime (a std::string), for the sparse bound. */
export const STRING_ELEMENT_BYTES = 32

/** The TensorProto field that carries a type's values when raw_data is absent, and values per element. */
export function typedField(dataType: number): { field: number; perElement: number } | undefined {
  const bits = ELEMENT_BITS[dataType]
  if (dataType === STRING) return { field: 6, perElement: 1 } // string_data
  if (bits === undefined) return undefined
  if (dataType === 1 || dataType === 14) return { field: 4, perElement: dataType === 14 ? 2 : 1 } // float_data
  if (dataType === 11 || dataType === 15) return { field: 10, perElement: dataType === 15 ? 2 : 1 } // double_data
  if (dataType === 7) return { field: 7, perElement: 1 } // int64_data
  if (dataType === 12 || dataType === 13) return { field: 11, perElement: 1 } // uint64_data
  // int32_data holds everything else, sub-byte types packed into one int32 per byte.
  return { field: 5, perElement: bits < 8 ? bits / 8 : 1 }
}

/** TensorProto's typed data fields and the wire type of one unpacked value. */
export const TYPED_WIRE: Readonly<Record<number, Wire.Varint | Wire.Fixed32 | Wire.Fixed64 | Wire.Bytes>> = {
  4: Wire.Fixed32, // float_data
  5: Wire.Varint, // int32_data
  6: Wire.Bytes, // string_data: one string per occurrence
  7: Wire.Varint, // int64_data
  10: Wire.Fixed64, // double_data
  11: Wire.Varint, // uint64_data
}

/** How many values one occurrence of a typed data field carries. */
export function valueCount(r: ProtoReader): number {
  const unpacked = TYPED_WIRE[r.field]
  if (unpacked === Wire.Bytes) return r.wire === Wire.Bytes ? 1 : 0
  return unpacked === undefined ? 0 : r.count(unpacked)
}
