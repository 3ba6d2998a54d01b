/**
 * tritonclient.http (triton-inference-server/client, src/python/library/tritonclient/), rebuilt
 * byte for byte in TypeScript for the tests: tritonclient cannot be installed here (no PyPI).
 * Checked against `http/_utils.py` (`_get_inference_request`, 2023-2026 header),
 * `http/_infer_input.py` (`set_data_from_numpy`, `_get_tensor`), `http/_requested_output.py`,
 * `http/_infer_result.py` (`InferResult.__init__`, `as_numpy`), `http/_client.py` (`infer`:
 * headers) and `utils/__init__.py` (`serialize_byte_tensor`, `deserialize_bytes_tensor`).
 * JSON goes through python-rapidjson (`import rapidjson as json`): compact, floats as Python's
 * `repr`, NaN/±Infinity as `NaN`/`Infinity`/`-Infinity`, ints exact, non-ASCII escaped.
 */

/** A numpy array as the tests hold one: its Triton datatype, shape and row-major values. */
export interface NpArray {
  datatype: string
  shape: number[]
  /** Numbers for floats and narrow ints, bigints for 64-bit ints, booleans, or bytes for BYTES. */
  values: Array<number | bigint | boolean | Uint8Array>
}

/** Python's `repr(float)`: the shortest digits, `1.0`, `1e+16`, `1.5e-05`; rapidjson's NaN/Infinity. */
function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const sign = x < 0 ? '-' : ''
  const [mantissa, e] = Math.abs(x).toExponential().split('e') as [string, string] // shortest digits
  const digits = mantissa.replace('.', '')
  const exp = Number(e)
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
  return `${sign}${int}.${digits.slice(exp + 1) || '0'}`
}

/** A Python float marker, so `dumps` writes `repr` rather than an int. */
class PyFloat {
  constructor(readonly value: number) {}
}

/** python-rapidjson `dumps` defaults: compact, ensure_ascii, NM_NAN on. */
export function rapidjsonDumps(v: unknown): string {
  if (v instanceof PyFloat) return pyFloatRepr(v.value)
  if (typeof v === 'bigint' || typeof v === 'number') return String(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (v === null) return 'null'
  if (typeof v === 'string')
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  if (Array.isArray(v)) return `[${v.map(rapidjsonDumps).join(',')}]`
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${rapidjsonDumps(k)}:${rapidjsonDumps(x)}`)
    .join(',')}}`
}

const FLOATS = new Set(['FP16', 'FP32', 'FP64'])
const WIDTH: Record<string, number> = {
  BOOL: 1,
  INT8: 1,
  UINT8: 1,
  INT16: 2,
  UINT16: 2,
  FP16: 2,
  INT32: 4,
  UINT32: 4,
  FP32: 4,
  INT64: 8,
  UINT64: 8,
  FP64: 8,
}

/** `input_tensor.tobytes()`: little-endian, row-major (FP16 values given as their half's bits). */
export function tobytes(a: NpArray): Uint8Array {
  if (a.datatype === 'BYTES') return serializeByteTensor(a.values as Uint8Array[])
  const width = WIDTH[a.datatype] as number
  const out = new Uint8Array(a.values.length * width)
  const view = new DataView(out.buffer)
  for (let i = 0; i < a.values.length; i++) write(view, a.datatype, i * width, a.values[i])
  return out
}

function write(view: DataView, datatype: string, at: number, v: unknown): void {
  if (datatype === 'BOOL') view.setUint8(at, v ? 1 : 0)
  else if (datatype === 'INT8') view.setInt8(at, v as number)
  else if (datatype === 'UINT8') view.setUint8(at, v as number)
  else if (datatype === 'INT16') view.setInt16(at, v as number, true)
  else if (datatype === 'UINT16' || datatype === 'FP16') view.setUint16(at, v as number, true)
  else if (datatype === 'INT32') view.setInt32(at, v as number, true)
  else if (datatype === 'UINT32') view.setUint32(at, v as number, true)
  else if (datatype === 'FP32') view.setFloat32(at, v as number, true)
  else if (datatype === 'FP64') view.setFloat64(at, v as number, true)
  else if (datatype === 'INT64') view.setBigInt64(at, v as bigint, true)
  else view.setBigUint64(at, v as bigint, true)
}

/** `serialize_byte_tensor`: per element `struct.pack("<I", len(s))` then `s`. */
export function serializeByteTensor(elements: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(elements.reduce((n, e) => n + 4 + e.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const e of elements) {
    view.setUint32(at, e.length, true)
    out.set(e, at + 4)
    at += 4 + e.length
  }
  return out
}

/** `deserialize_bytes_tensor`: `struct.unpack_from("<I")` then the bytes, until the buffer ends. */
export function deserializeBytesTensor(buf: Uint8Array): Uint8Array[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const out: Uint8Array[] = []
  for (let at = 0; at < buf.length; ) {
    const n = view.getUint32(at, true)
    out.push(buf.slice(at + 4, at + 4 + n))
    at += 4 + n
  }
  return out
}

/** `InferInput(name, shape, datatype)` after `set_data_from_numpy(array, binary_data)`. */
export class InferInput {
  private parameters: Record<string, unknown> = {}
  private data: unknown[] | undefined
  private raw: Uint8Array | undefined

  constructor(
    readonly name: string,
    readonly array: NpArray,
    binaryData = true,
  ) {
    if (binaryData) {
      this.raw = tobytes(array)
      this.parameters.binary_data_size = this.raw.length
    } else if (array.datatype === 'BYTES') {
      this.data = (array.values as Uint8Array[]).map((b) => new TextDecoder().decode(b))
    } else {
      // `[val.item() for val in input_tensor.flatten()]`: Python floats for FP*, ints, bools.
      const half = (bits: number) => halfValue(bits)
      this.data = array.values.map((v) =>
        FLOATS.has(array.datatype) ? new PyFloat(array.datatype === 'FP16' ? half(v as number) : (v as number)) : v,
      )
    }
  }

  /** `_get_tensor()`. */
  tensor(): Record<string, unknown> {
    const t: Record<string, unknown> = { name: this.name, shape: this.array.shape, datatype: this.array.datatype }
    if (Object.keys(this.parameters).length > 0) t.parameters = this.parameters
    if (this.raw === undefined && this.data !== undefined) t.data = this.data
    return t
  }

  binary(): Uint8Array | undefined {
    return this.raw
  }
}

/** The value of a half's bits, from the format's definition (numpy's float16 `.item()`). */
function halfValue(bits: number): number {
  const e = (bits >> 10) & 0x1f
  const m = bits & 0x3ff
  const s = bits & 0x8000 ? -1 : 1
  if (e === 0x1f) return m ? Number.NaN : s * Number.POSITIVE_INFINITY
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15)
}

/** `InferRequestedOutput(name, binary_data=True, class_count=0)._get_tensor()`. */
export function requestedOutput(name: string, binaryData = true, classCount = 0): Record<string, unknown> {
  const parameters: Record<string, unknown> = {}
  if (classCount !== 0) parameters.classification = classCount
  parameters.binary_data = binaryData
  return { name, parameters }
}

/** `_get_inference_request(...)` then the headers `infer()` sets: the body and its headers. */
export function inferenceRequest(
  inputs: InferInput[],
  opts: { outputs?: Array<Record<string, unknown>>; requestId?: string; parameters?: Record<string, unknown> } = {},
): { body: Uint8Array; headers: Record<string, string> } {
  const request: Record<string, unknown> = {}
  const parameters: Record<string, unknown> = {}
  if (opts.requestId) request.id = opts.requestId
  request.inputs = inputs.map((i) => i.tensor())
  if (opts.outputs?.length) request.outputs = opts.outputs
  else parameters.binary_data_output = true
  Object.assign(parameters, opts.parameters)
  if (Object.keys(parameters).length > 0) request.parameters = parameters
  const json = new TextEncoder().encode(rapidjsonDumps(request))
  const blobs = inputs.flatMap((i) => i.binary() ?? [])
  // No Content-Type: tritonclient sets none (geventhttpclient adds only Host, User-Agent, Content-Length).
  const headers: Record<string, string> = { 'User-Agent': 'python/gevent-http-client-2.0.11' }
  if (blobs.length === 0) return { body: json, headers }
  const body = new Uint8Array(json.length + blobs.reduce((n, b) => n + b.length, 0))
  body.set(json)
  let at = json.length
  for (const b of blobs) {
    body.set(b, at)
    at += b.length
  }
  headers['Inference-Header-Content-Length'] = String(json.length)
  return { body, headers }
}

/**
 * python-rapidjson `loads`: NaN/Infinity literals are numbers and integers are exact. Done here
 * without the server's parser: tokens JSON.parse cannot read become tagged strings first (our
 * answers hold no such text inside strings), then are turned back.
 */
function rapidjsonLoads(text: string): unknown {
  const tagged = text.replace(/([[,:])(-?Infinity|NaN|-?\d{16,})(?=[,\]}])/g, '$1"\\u0000$2"')
  return JSON.parse(tagged, (_k, v) => {
    if (typeof v !== 'string' || !v.startsWith('\u0000')) return v
    const t = v.slice(1)
    if (t === 'NaN') return Number.NaN
    if (t.endsWith('Infinity')) return t.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
    return BigInt(t)
  })
}

/** One output as `InferResult.as_numpy(name)` returns it. */
export interface NpResult {
  datatype: string
  shape: number[]
  /** Values: numbers, bigints (64-bit), booleans, bytes (binary BYTES) or strings (JSON BYTES). */
  values: unknown[]
  /** Whether it came as binary (`binary_data_size`). */
  binary: boolean
}

/** `InferResult(response)` then `as_numpy` for every output, and `get_response()`. */
export function inferResult(
  status: number,
  headers: Headers,
  body: Uint8Array,
): { response: Record<string, unknown>; outputs: Record<string, NpResult> } {
  if (status !== 200) throw new Error(`tritonclient raises for status ${status}: ${new TextDecoder().decode(body)}`)
  const headerLength = headers.get('Inference-Header-Content-Length')
  const jsonBytes = headerLength === null ? body : body.subarray(0, Number(headerLength))
  const response = rapidjsonLoads(new TextDecoder().decode(jsonBytes)) as Record<string, unknown>
  const buffer = headerLength === null ? new Uint8Array(0) : body.subarray(Number(headerLength))
  const outputs: Record<string, NpResult> = {}
  let index = 0
  for (const o of response.outputs as Array<Record<string, unknown>>) {
    const datatype = o.datatype as string
    const shape = o.shape as number[]
    const size = (o.parameters as { binary_data_size?: number } | undefined)?.binary_data_size
    if (size !== undefined) {
      const slice = buffer.subarray(index, index + size)
      index += size
      outputs[o.name as string] = { datatype, shape, values: frombuffer(datatype, slice), binary: true }
    } else outputs[o.name as string] = { datatype, shape, values: o.data as unknown[], binary: false }
  }
  return { response, outputs }
}

/** `np.frombuffer(buf, dtype)` (BYTES: `deserialize_bytes_tensor`); FP16 as the halves' values. */
export function frombuffer(datatype: string, buf: Uint8Array): unknown[] {
  if (datatype === 'BYTES') return deserializeBytesTensor(buf)
  const width = WIDTH[datatype] as number
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  return Array.from({ length: buf.length / width }, (_, i) => {
    const at = i * width
    switch (datatype) {
      case 'BOOL':
        return view.getUint8(at) !== 0
      case 'INT8':
        return view.getInt8(at)
      case 'UINT8':
        return view.getUint8(at)
      case 'INT16':
        return view.getInt16(at, true)
      case 'UINT16':
        return view.getUint16(at, true)
      case 'FP16':
        return halfValue(view.getUint16(at, true))
      case 'INT32':
        return view.getInt32(at, true)
      case 'UINT32':
        return view.getUint32(at, true)
      case 'FP32':
        return view.getFloat32(at, true)
      case 'FP64':
        return view.getFloat64(at, true)
      case 'INT64':
        return view.getBigInt64(at, true)
      default:
        return view.getBigUint64(at, true)
    }
  })
}
