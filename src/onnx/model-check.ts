/**
 * What lastmile checks in an ONNX model before onnxruntime sees it: that it is self-contained
 * (no tensor keeps its data in a file: onnxruntime would resolve the path against the server's
 * working directory and hand the file's bytes to whoever runs the model), and that no tensor
 * claims more data than it carries (a few bytes must not make the server allocate gigabytes).
 *
 * The walk covers every place ONNX keeps a tensor or a subgraph: ModelProto → graph, functions,
 * training_info; GraphProto initializer and sparse_initializer; node attributes (t, tensors, g,
 * graphs, sparse_tensor(s)) at any depth, so If/Loop/Scan bodies too. Field numbers follow
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto.
 */
import { InvalidModelError } from '../errors.js'
import { ELEMENT_BITS, STRING, STRING_ELEMENT_BYTES, TYPED_WIRE, typedField, valueCount } from './data-types.js'
import { ProtoError, ProtoReader, Wire } from './reader.js'

/** How far sparse tensors may expand: their dense forms together, as a multiple of the model's size. */
const SPARSE_EXPANSION = 16

/** Nesting beyond this is refused (protobuf's own parser stops at 100 levels too). */
const MAX_DEPTH = 100

/** Where a refused tensor is, for the error's details. */
interface TensorPlace {
  /** The tensor's name ('' when it has none). */
  tensor: string
  /** Where it sits in the model, e.g. `graph.node[2].attribute 'then_branch'.initializer[0]`. */
  at: string
}

/**
 * Throw `InvalidModelError` unless `bytes` are a self-contained ONNX model whose tensors carry
 * the data their shapes claim. Never reads a file; work is linear in `bytes.length`.
 */
export function checkModel(bytes: Uint8Array): void {
  const walk = new ModelWalk(bytes)
  try {
    walk.model(new ProtoReader(bytes))
  } catch (e) {
    if (e instanceof ProtoError) {
      throw new InvalidModelError(
        `not a valid ONNX model (protobuf parsing failed): ${e.message} (in ${walk.where()})`,
        { cause: e },
      )
    }
    throw e
  }
}

class ModelWalk {
  private readonly path: string[] = ['model']
  private denseBytes = 0

  constructor(private readonly bytes: Uint8Array) {}

  where(): string {
    return this.path.join('.')
  }

  model(r: ProtoReader): void {
    const once = new Once('model')
    while (r.next()) {
      if (r.wire !== Wire.Bytes) continue
      if (r.field === 7) this.enter('graph', once.check(r), (s) => this.graph(s))
      else if (r.field === 20) this.enter('training_info', r, (s) => this.training(s))
      else if (r.field === 25) this.enter(`functions '${peekText(r, 1)}'`, r, (s) => this.function(s))
    }
  }

  private training(r: ProtoReader): void {
    const once = new Once('training_info')
    while (r.next()) {
      if (r.wire !== Wire.Bytes) continue
      if (r.field === 1) this.enter('initialization', once.check(r), (s) => this.graph(s))
      else if (r.field === 2) this.enter('algorithm', once.check(r), (s) => this.graph(s))
    }
  }

  private function(r: ProtoReader): void {
    let node = 0
    while (r.next()) {
      if (r.wire !== Wire.Bytes) continue
      if (r.field === 7) this.node(r, node++)
      else if (r.field === 11) this.enter(`attribute_proto '${peekText(r, 1)}'`, r, (s) => this.attribute(s))
    }
  }

  private graph(r: ProtoReader): void {
    let node = 0
    let init = 0
    let sparse = 0
    while (r.next()) {
      if (r.wire !== Wire.Bytes) continue
      if (r.field === 1) this.node(r, node++)
      else if (r.field === 5) this.enter(`initializer[${init++}]`, r, (s) => this.tensor(s))
      else if (r.field === 15) this.enter(`sparse_initializer[${sparse++}]`, r, (s) => this.sparse(s))
    }
  }

  /** The NodeProto at `r`'s current field: its attributes may hold tensors and subgraphs. */
  private node(r: ProtoReader, index: number): void {
    const op = peekText(r, 4)
    this.enter(`node[${index}](${op})`, r, (s) => {
      if (op === 'EPContext') {
        // A blob precompiled for one execution provider; with embed_mode=0, ep_cache_context names a file.
        this.refuse(
          `${this.where()} is an EPContext node (a blob precompiled for one execution provider, which can name a file): lastmile runs only portable ONNX graphs`,
        )
      }
      while (s.next()) {
        if (s.field === 5 && s.wire === Wire.Bytes)
          this.enter(`attribute '${peekText(s, 1)}'`, s, (a) => this.attribute(a))
      }
    })
  }

  private attribute(r: ProtoReader): void {
    const once = new Once('attribute')
    let i = 0
    while (r.next()) {
      if (r.wire !== Wire.Bytes) continue
      if (r.field === 5) this.enter('t', once.check(r), (s) => this.tensor(s))
      else if (r.field === 6) this.enter('g', once.check(r), (s) => this.graph(s))
      else if (r.field === 22) this.enter('sparse_tensor', once.check(r), (s) => this.sparse(s))
      else if (r.field === 10) this.enter(`tensors[${i++}]`, r, (s) => this.tensor(s))
      else if (r.field === 11) this.enter(`graphs[${i++}]`, r, (s) => this.graph(s))
      else if (r.field === 23) this.enter(`sparse_tensors[${i++}]`, r, (s) => this.sparse(s))
    }
  }

  /** A SparseTensorProto: onnxruntime expands it to its dense shape, so that size is bounded. */
  private sparse(r: ProtoReader): void {
    const once = new Once('sparse tensor')
    const dims: number[] = []
    let name = ''
    let dataType = 0
    while (r.next()) {
      if (r.field === 3)
        r.varints((d) => dims.push(d)) // the dense shape
      else if (r.wire !== Wire.Bytes) continue
      else if (r.field === 1) {
        once.check(r)
        name = peekText(r, 8)
        dataType = peekVarint(r, 2)
      } else if (r.field === 2) once.check(r)
    }
    const per = dataType === STRING ? STRING_ELEMENT_BYTES : (ELEMENT_BITS[dataType] ?? 64) / 8
    this.denseBytes += this.elements(dims, name) * per
    if (this.denseBytes > SPARSE_EXPANSION * this.bytes.length) {
      this.refuse(
        `sparse tensor '${name}' (${this.where()}) has dense shape ${shape(dims)}: with the model's other sparse tensors that is ${this.denseBytes} bytes once expanded, more than ${SPARSE_EXPANSION}× the model's ${this.bytes.length} bytes`,
        { tensor: name, at: this.where() },
      )
    }
    const again = r.again()
    while (again.next()) {
      if (again.wire !== Wire.Bytes) continue
      if (again.field === 1) this.enter('values', again, (s) => this.tensor(s))
      else if (again.field === 2) this.enter('indices', again, (s) => this.tensor(s))
    }
  }

  /** A TensorProto: refuse external data, and data that does not match the shape and type. */
  private tensor(r: ProtoReader): void {
    const dims: number[] = []
    let dataType = 0
    let name = ''
    let location: string | undefined
    let external = false
    let rawBytes = -1 // the last raw_data wins, as in protobuf
    const counts = new Map<number, number>() // typed data field → values carried
    while (r.next()) {
      const { field, wire } = r
      if (field === 1) r.varints((d) => dims.push(d))
      else if (field === 2 && wire === Wire.Varint) dataType = r.value
      else if (field === 8 && wire === Wire.Bytes) name = r.text()
      else if (field === 9 && wire === Wire.Bytes) rawBytes = r.length
      else if (field === 13 && wire === Wire.Bytes) {
        external = true
        if (peekText(r, 1, 64) === 'location') location = peekText(r, 2)
      } else if (field === 14 && wire === Wire.Varint && r.value !== 0) external = true
      else if (TYPED_WIRE[field] !== undefined) counts.set(field, (counts.get(field) ?? 0) + valueCount(r))
    }
    const place = { tensor: name, at: this.where() }
    if (external) {
      this.refuse(
        `tensor '${name}' (${place.at}) keeps its data in an external file${location === undefined ? '' : ` ('${location}')`}: lastmile accepts only self-contained models; save the model with its weights inside it (onnx.save_model(model, path, save_as_external_data=False))`,
        { ...place, ...(location === undefined ? {} : { location }) },
      )
    }
    const elements = this.elements(dims, name)
    const bits = ELEMENT_BITS[dataType]
    const what = `tensor '${name}' (${place.at}) of shape ${shape(dims)}`
    if (rawBytes >= 0 && bits !== undefined) {
      const expected = Math.ceil((elements * bits) / 8)
      if (rawBytes !== expected) this.refuse(`${what} needs ${expected} bytes of raw_data, has ${rawBytes}`, place)
      return
    }
    const typed = typedField(dataType)
    if (typed === undefined) return // an undefined type: onnxruntime refuses it before allocating
    const expected = Math.ceil(elements * typed.perElement)
    const have = counts.get(typed.field) ?? 0
    if (have !== expected) this.refuse(`${what} needs ${expected} values, carries ${have}`, place)
  }

  /** The product of `dims`, refused when a dimension is negative or the product is absurd. */
  private elements(dims: readonly number[], name: string): number {
    let n = 1
    for (const d of dims) {
      // Negative int64s arrive as numbers ≥ 2^63; nothing real has 2^53 elements.
      if (d > Number.MAX_SAFE_INTEGER) this.refuse(`tensor '${name}' (${this.where()}) has a negative dimension`)
      n *= d
      if (n > Number.MAX_SAFE_INTEGER) {
        this.refuse(`tensor '${name}' (${this.where()}) has dims ${shape(dims)} whose product exceeds 2^53`)
      }
    }
    return n
  }

  private enter(segment: string, r: ProtoReader, read: (sub: ProtoReader) => void): void {
    if (this.path.length >= MAX_DEPTH) this.refuse(`the model nests deeper than ${MAX_DEPTH} levels at ${this.where()}`)
    this.path.push(segment)
    read(r.sub())
    this.path.pop()
  }

  private refuse(message: string, place?: TensorPlace & { location?: string }): never {
    throw new InvalidModelError(message, place ? { details: { ...place } } : undefined)
  }
}

/** Refuses a second occurrence of a singular message field (protobuf would merge the two). */
class Once {
  private readonly seen = new Set<number>()
  constructor(private readonly message: string) {}
  check(r: ProtoReader): ProtoReader {
    if (this.seen.has(r.field)) {
      throw new ProtoError(`${this.message} field ${r.field} appears twice (ONNX writers write it once)`)
    }
    this.seen.add(r.field)
    return r
  }
}

/** `[a, b, c]` for a message, cut after 8 dims (a hostile tensor may claim millions). */
function shape(dims: readonly number[]): string {
  const shown = 8
  return `[${dims.slice(0, shown).join(', ')}${dims.length > shown ? `, … (${dims.length} dims)` : ''}]`
}

/** The first string of `field` in the current length-delimited field's message ('' if none). */
function peekText(r: ProtoReader, field: number, max?: number): string {
  const s = r.sub()
  while (s.next()) if (s.field === field && s.wire === Wire.Bytes) return s.text(max)
  return ''
}

/** The last varint of `field` in the current length-delimited field's message (0 if none). */
function peekVarint(r: ProtoReader, field: number): number {
  const s = r.sub()
  let v = 0
  while (s.next()) if (s.field === field && s.wire === Wire.Varint) v = s.value
  return v
}
