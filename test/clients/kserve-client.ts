/**
 * KServe's Python client (kserve/kserve, python/kserve/kserve/), rebuilt in TypeScript for the
 * tests: `InferRequest.to_rest`, `InferInput.set_data_from_numpy` and `InferResponse.from_bytes`
 * / `InferOutput.as_numpy` in protocol/infer_type.py (2026 header), and the headers
 * `InferenceRESTClient.infer` sets (inference_client.py). Its JSON library is orjson: compact,
 * NaN/±Infinity written as `null`, and `loads` refuses NaN/Infinity literals. Its BYTES
 * (de)serializers are tritonclient's, copied verbatim, so triton-client.ts's serve for both.
 */
import { deserializeBytesTensor, frombuffer, type NpArray, serializeByteTensor, tobytes } from './triton-client.js'

/** orjson `dumps` of a value tree: compact; floats (marked) shortest with `.0`, non-finite as null. */
export class OrFloat {
  constructor(readonly value: number) {}
}

export function orjsonDumps(v: unknown): string {
  if (v instanceof OrFloat) {
    if (!Number.isFinite(v.value)) return 'null'
    return Number.isInteger(v.value) && Math.abs(v.value) < 1e16 ? `${v.value}.0` : String(v.value)
  }
  if (typeof v === 'bigint' || typeof v === 'number') return String(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v) // orjson writes UTF-8, not \u escapes
  if (Array.isArray(v)) return `[${v.map(orjsonDumps).join(',')}]`
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${JSON.stringify(k)}:${orjsonDumps(x)}`)
    .join(',')}}`
}

/** orjson `loads`: strict JSON (NaN/Infinity refused, as JSON.parse does), 64-bit integers exact. */
function orjsonLoads(text: string): unknown {
  const tagged = text.replace(/([[,:])(-?\d{16,})(?=[,\]}])/g, '$1"\\u0000$2"')
  return JSON.parse(tagged, (_k, v) => (typeof v === 'string' && v.startsWith('\u0000') ? BigInt(v.slice(1)) : v))
}

const FLOATS = new Set(['FP32', 'FP64'])

/** `InferInput(name, shape, datatype)` with `set_data_from_numpy(array, binary_data)`. */
export interface KInput {
  name: string
  array: NpArray
  binary: boolean
  /** `data` as the user gave it (nested lists), instead of the numpy flattening. */
  data?: unknown
}

/**
 * `InferRequest(model_name, infer_inputs, request_id, parameters, request_outputs).to_rest()`
 * then `infer()`'s headers: JSON bodies go without Content-Type, binary ones with
 * `inference-header-content-length` and `application/octet-stream`.
 */
export function toRest(
  modelName: string,
  inputs: KInput[],
  opts: {
    id?: string
    outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>
    parameters?: Record<string, unknown>
  } = {},
): { body: Uint8Array; headers: Record<string, string> } {
  const raw: Uint8Array[] = []
  const tensors = inputs.map((i) => {
    if (i.array.datatype === 'FP16' && !i.binary) throw new Error('Sending FP16 data via JSON is not supported')
    const t: Record<string, unknown> = { name: i.name, shape: i.array.shape, datatype: i.array.datatype }
    if (i.binary) {
      const bytes =
        i.array.datatype === 'BYTES' ? serializeByteTensor(i.array.values as Uint8Array[]) : tobytes(i.array)
      t.parameters = { binary_data_size: bytes.length }
      raw.push(bytes)
    } else {
      // `[val.item() for val in input_tensor.flatten()]`; BYTES as str.
      t.data =
        i.data ??
        i.array.values.map((v) =>
          i.array.datatype === 'BYTES'
            ? new TextDecoder().decode(v as Uint8Array)
            : FLOATS.has(i.array.datatype)
              ? new OrFloat(v as number)
              : v,
        )
    }
    return t
  })
  const res: Record<string, unknown> = {
    id: opts.id ?? '6f1c8a52-2b7e-4a43-9d0e-6c1f0b1a2d3e', // str(uuid.uuid4()) when none is given
    model_name: modelName,
    inputs: tensors,
  }
  if (opts.outputs?.length) res.outputs = opts.outputs
  if (opts.parameters) res.parameters = opts.parameters
  const json = new TextEncoder().encode(orjsonDumps(res))
  if (raw.length === 0) return { body: json, headers: {} }
  const body = new Uint8Array(json.length + raw.reduce((n, b) => n + b.length, 0))
  body.set(json)
  let at = json.length
  for (const b of raw) {
    body.set(b, at)
    at += b.length
  }
  return {
    body,
    headers: { 'inference-header-content-length': String(json.length), 'content-type': 'application/octet-stream' },
  }
}

/** `InferResponse.from_bytes(content, json_length)` then `as_numpy()` for each output. */
export function fromBytes(
  status: number,
  headers: Headers,
  content: Uint8Array,
): {
  response: Record<string, unknown>
  outputs: Record<string, { datatype: string; shape: number[]; values: unknown[] }>
} {
  if (status < 200 || status > 299) {
    // `response.is_success` is false: `_construct_http_status_error` raises httpx.HTTPStatusError.
    throw new Error(`httpx.HTTPStatusError ${status}: ${new TextDecoder().decode(content)}`)
  }
  const jsonLength = Number(headers.get('inference-header-content-length') ?? content.length)
  let response: Record<string, unknown>
  try {
    response = orjsonLoads(new TextDecoder().decode(content.subarray(0, jsonLength))) as Record<string, unknown>
  } catch (e) {
    throw new Error(`InvalidInput: Unrecognized request format: ${(e as Error).message}`)
  }
  if (typeof response.model_name !== 'string') throw new Error("KeyError: 'model_name'")
  const outputs: Record<string, { datatype: string; shape: number[]; values: unknown[] }> = {}
  let start = jsonLength
  for (const o of response.outputs as Array<Record<string, unknown>>) {
    const datatype = o.datatype as string
    const shape = o.shape as number[]
    const size = (o.parameters as { binary_data_size?: number } | undefined)?.binary_data_size
    let values: unknown[]
    if (size !== undefined) {
      const raw = content.subarray(start, start + size)
      start += size
      values = datatype === 'BYTES' ? deserializeBytesTensor(raw) : frombuffer(datatype, raw)
    } else {
      if (o.data === undefined) throw new Error(`InvalidInput: 'data' field is missing for output '${o.name}'`)
      // `np.array(self._data, dtype=dtype)`: None in a float array is nan.
      values = (o.data as unknown[]).flat(Number.POSITIVE_INFINITY).map((v) => (v === null ? Number.NaN : v))
    }
    outputs[o.name as string] = { datatype, shape, values }
  }
  return { response, outputs }
}
