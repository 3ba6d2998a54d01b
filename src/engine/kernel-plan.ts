/**
 * Compile an ONNX graph (src/onnx/graph.ts) into a plan of lastmile's own kernels — GEMMs,
 * convolutions, pools, element-wise steps and softmax — or say why it cannot be one. Shapes are
 * inferred per row (the dims after the batch dim, all static) from the inputs, node by node, and
 * every weight's length and every shape agreement is checked. Folded on the way (float64, stored
 * as float32): Gemm's alpha/beta/transB; MatMul + Add of a bias into one gemm; BatchNormalization
 * into the Conv before it; Relu/Sigmoid/Tanh into the step that produces their input;
 * Add(conv, other) into the conv as its residual. Flatten, Reshape, Identity and Dropout name the
 * same buffer under another shape (`aliases`).
 *
 * @example
 * const plan = planKernels(readGraph(bytes))
 * if ('unsupported' in plan) console.log(plan.unsupported) // 'Gather, at node Gather_3'
 */
import type { Activation } from '../kernels/activation.js'
import { elemTypeName } from '../onnx/builder.js'
import type { OnnxGraph, OnnxNode, OnnxValueInfo } from '../onnx/graph.js'
import { foldBatchNorm, gemmBias, gemmWeight } from './kernel-fold.js'
import type { KernelPlan, PlanStep, PlanValue } from './kernel-plan-types.js'
import {
  biasOf,
  convShape,
  cut,
  NodeAttrs,
  poolShape,
  reshapeShape,
  same,
  size,
  type Weight,
  weightOf,
} from './plan-shapes.js'

/** A value with more elements per row than this is refused (no GPU binds a buffer of 2^28 floats per row anyway). */
const MAX_ROW_ELEMENTS = 2 ** 28

/** Why the graph is not a plan; caught by planKernels and returned as `{ unsupported }`. */
class Unsupported extends Error {}

/**
 * The plan of `graph`, or `{ unsupported: '<op or reason>, at node <name>' }` for the first
 * operator, type or shape the kernels do not cover.
 */
export function planKernels(graph: OnnxGraph): KernelPlan | { unsupported: string } {
  try {
    return new Planner(graph).plan()
  } catch (e) {
    if (e instanceof Unsupported) return { unsupported: e.message }
    throw e
  }
}

type Step = PlanStep

class Planner {
  private readonly readers = new Map<string, number>()
  private readonly graphOutputs: Set<string>
  /** Per-row shapes of every runtime name: inputs, step outputs and aliases. */
  private readonly shapes = new Map<string, number[]>()
  private readonly aliases = new Map<string, string>()
  private readonly producer = new Map<string, Step>()
  /** Gemm steps whose bias is still to come (MatMul, or Gemm without C): an Add of one folds in. */
  private readonly openBias = new Set<Step>()
  /** Initializers already some step's weight: a second use would copy it again (memory × readers). */
  private readonly usedWeights = new Set<string>()
  /** Convs a BatchNormalization was folded into: a second fold would rewrite the weight again. */
  private readonly normalized = new Set<Step>()
  private steps: Step[] = []
  private node: OnnxNode | undefined
  private nodeIndex = 0
  private attrs = new NodeAttrs({}, (reason) => this.fail(reason))

  constructor(private readonly graph: OnnxGraph) {
    this.graphOutputs = new Set(graph.outputs.map((o) => o.name))
    for (const n of graph.nodes) for (const i of n.inputs) if (i !== '') this.readers.set(i, this.readCount(i) + 1)
  }

  plan(): KernelPlan {
    const inputs = this.inputs()
    this.graph.nodes.forEach((node, i) => {
      this.node = node
      this.nodeIndex = i
      this.attrs = new NodeAttrs(node.attrs, (reason) => this.fail(reason))
      this.visit(node)
    })
    this.node = undefined
    if (this.graph.outputs.length === 0) this.fail('the model has no output')
    const outputs = this.graph.outputs.map((o) => this.output(o))
    // A conv moved after its residual's producer was pushed again: keep its last place.
    const last = new Map<Step, number>()
    this.steps.forEach((s, i) => {
      last.set(s, i)
    })
    this.steps = this.steps.filter((s, i) => last.get(s) === i)
    const values: Record<string, PlanValue> = Object.create(null)
    for (const v of inputs) values[v.name] = v
    for (const s of this.steps) values[s.output] = { name: s.output, shape: this.shapes.get(s.output) as number[] }
    const aliases: Record<string, string> = Object.create(null)
    for (const [a, root] of this.aliases) aliases[a] = root
    return { inputs, outputs, steps: this.steps, aliases, values }
  }

  /** A graph output: a step's output or an alias of one, its declared shape agreeing with the computed one. */
  private output(o: OnnxValueInfo): PlanValue {
    const root = this.aliases.get(o.name) ?? o.name
    if (!this.producer.has(root)) {
      const what = this.graph.initializers.has(root)
        ? 'a constant'
        : this.shapes.has(root)
          ? 'a graph input'
          : 'never computed'
      this.fail(`output '${o.name}' is ${what}`)
    }
    if (o.elemType !== 1 && o.elemType !== 0)
      this.fail(`output '${o.name}' is ${elemTypeName(o.elemType)}, not float32`)
    const shape = this.shapes.get(o.name) as number[]
    const declared = o.dims.slice(1)
    if (
      o.dims.length > 0 &&
      (declared.length !== shape.length || declared.some((d, i) => typeof d === 'number' && d !== shape[i]))
    ) {
      this.fail(`output '${o.name}' is declared [${o.dims.join(', ')}] but computes [batch, ${shape.join(', ')}]`)
    }
    return { name: o.name, shape }
  }

  private inputs(): PlanValue[] {
    const inputs = this.graph.inputs.filter((v) => !this.graph.initializers.has(v.name))
    if (inputs.length === 0) this.fail('the model has no input')
    return inputs.map((v) => {
      if (v.elemType !== 1) this.fail(`input '${v.name}' is ${elemTypeName(v.elemType)}, not float32`)
      if (v.dims.length === 0) this.fail(`input '${v.name}' has no batch dimension`)
      const shape = v.dims.slice(1).map((d, i) => {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) {
          this.fail(`input '${v.name}' has dimension ${i + 1} '${d ?? '?'}' (only the first may be dynamic)`)
        }
        return d
      })
      this.define(v.name, shape)
      return { name: v.name, shape }
    })
  }

  private visit(node: OnnxNode): void {
    if (node.domain !== '' && node.domain !== 'ai.onnx') this.fail(`${node.op} (domain ${node.domain})`)
    const out = node.outputs[0] ?? ''
    if (out === '') this.fail(`${node.op} without an output`)
    const extra = node.outputs.slice(1).find((o) => o !== '' && (this.readCount(o) > 0 || this.graphOutputs.has(o)))
    if (extra !== undefined) this.fail(`${node.op} whose output '${extra}' is used (only the first is supported)`)
    const [a = '', b = '', c = ''] = node.inputs
    const act = (activation: Activation) => () => this.activation(a, activation, out)
    const pool = () => this.pool(node.op, a, out)
    const handlers: Record<string, () => void> = {
      Gemm: () => this.gemm(a, b, c, out),
      MatMul: () => this.matmul(a, b, out),
      Add: () => this.add(a, b, out),
      Relu: act('relu'),
      Sigmoid: act('sigmoid'),
      Tanh: act('tanh'),
      Softmax: () => this.softmax(a, out),
      Conv: () => this.conv(a, b, c, out),
      BatchNormalization: () => this.batchNorm(node.inputs, out),
      MaxPool: pool,
      AveragePool: pool,
      GlobalAveragePool: pool,
      Flatten: () => this.flatten(a, out),
      Reshape: () => this.reshape(a, b, out),
      Identity: () => this.alias(out, a, this.value(a).shape),
      Dropout: () => {
        if (b !== '' || c !== '') this.fail('Dropout with a ratio or training_mode input')
        this.alias(out, a, this.value(a).shape)
      },
    }
    const handle = Object.hasOwn(handlers, node.op) ? handlers[node.op] : undefined
    if (handle === undefined) this.fail(node.op)
    handle()
  }

  private gemm(a: string, b: string, c: string, out: string): void {
    if (this.attrs.int('transA', 0) !== 0) this.fail('Gemm with transA = 1')
    const transB = this.attrs.int('transB', 0) !== 0
    const x = this.vector(a, 'Gemm')
    const w = this.weight(b, 'Gemm weight', 2)
    const [k, n] = (transB ? [w.dims[1], w.dims[0]] : w.dims) as [number, number]
    if (x.shape[0] !== k) this.fail(`Gemm K mismatch: the input has ${x.shape[0]} columns, the weight ${k} rows`)
    const bias = c === '' ? undefined : this.bias(c, n, 'Gemm bias', true)
    const step: Step = {
      op: 'gemm',
      input: x.name,
      output: out,
      k,
      n,
      weight: gemmWeight(w.floats, k, n, transB, this.attrs.float('alpha', 1)),
      bias: gemmBias(bias, n, this.attrs.float('beta', 1)),
      activation: 'none',
    }
    this.push(step, [n])
    if (bias === undefined) this.openBias.add(step)
  }

  private matmul(a: string, b: string, out: string): void {
    const x = this.vector(a, 'MatMul')
    const w = this.weight(b, 'MatMul weight', 2)
    const [k, n] = w.dims as [number, number]
    if (x.shape[0] !== k) this.fail(`MatMul K mismatch: the input has ${x.shape[0]} columns, the weight ${k} rows`)
    const step: Step = {
      op: 'gemm',
      input: x.name,
      output: out,
      k,
      n,
      weight: w.floats.slice(),
      bias: new Float32Array(n),
      activation: 'none',
    }
    this.push(step, [n])
    this.openBias.add(step)
  }

  private add(a: string, b: string, out: string): void {
    const constant = this.graph.initializers.has(a) ? a : this.graph.initializers.has(b) ? b : undefined
    if (constant !== undefined) {
      const other = constant === a ? b : a
      const step = this.fusable(other)
      if (step?.op !== 'gemm' || !this.openBias.has(step) || step.activation !== 'none') {
        this.fail(`Add of the constant '${constant}' that is not the bias of a MatMul or Gemm (broadcasting Add)`)
      }
      step.bias = this.bias(constant, step.n, 'Add bias', false).slice()
      this.openBias.delete(step)
      this.rename(step, out)
      return
    }
    const x = this.value(a)
    const y = this.value(b)
    if (!same(x.shape, y.shape)) this.fail(`broadcasting Add: [${x.shape.join(', ')}] + [${y.shape.join(', ')}]`)
    for (const [mine, theirs] of [
      [a, y.name],
      [b, x.name],
    ] as const) {
      const step = this.fusable(mine)
      if (step?.op === 'conv' && step.residual === undefined && step.activation === 'none' && theirs !== mine) {
        // The residual may be computed after the conv (a shortcut's own conv): run the conv last
        // (pushed again here, its earlier place dropped once at the end: linear in the steps).
        this.steps.push(step)
        step.residual = theirs
        this.rename(step, out)
        return
      }
    }
    this.push({ op: 'eltwise', a: x.name, b: y.name, output: out, count: size(x.shape), activation: 'none' }, x.shape)
  }

  private activation(a: string, activation: Activation, out: string): void {
    const step = this.fusable(a)
    if (step && step.op !== 'pool' && step.op !== 'softmax' && step.activation === 'none') {
      step.activation = activation
      this.rename(step, out)
      return
    }
    const x = this.value(a)
    this.push({ op: 'eltwise', a: x.name, output: out, count: size(x.shape), activation }, x.shape)
  }

  private softmax(a: string, out: string): void {
    const x = this.value(a)
    const rank = x.shape.length + 1
    const given = this.attrs.int('axis', this.graph.opset >= 13 ? -1 : 1)
    const axis = given < 0 ? given + rank : given
    // Before opset 13 Softmax flattens the dims from `axis` on: the same as the last axis only there.
    if (axis !== rank - 1 || rank < 2)
      this.fail(`Softmax on axis ${given} of a rank-${rank} tensor (only the last axis)`)
    this.push({ op: 'softmax', input: x.name, output: out, cols: x.shape[rank - 2] as number }, x.shape)
  }

  private conv(a: string, b: string, c: string, out: string): void {
    const x = this.image(a, 'Conv')
    const w = this.weight(b, 'Conv weight', 4)
    const shape = convShape(this.attrs, x.shape, w.dims)
    const bias = c === '' ? new Float32Array(shape.outC) : this.bias(c, shape.outC, 'Conv bias', false).slice()
    const step: Step = {
      op: 'conv',
      input: x.name,
      output: out,
      weight: w.floats.slice(),
      bias,
      activation: 'none',
      ...shape,
    }
    this.push(step, [shape.outC, shape.outH, shape.outW])
  }

  private batchNorm(inputs: readonly string[], out: string): void {
    const [x = '', ...params] = inputs
    const step = this.fusable(x)
    if (step?.op !== 'conv' || step.activation !== 'none' || step.residual !== undefined || this.normalized.has(step)) {
      this.fail('BatchNormalization not right after a Conv')
    }
    this.normalized.add(step)
    if (this.attrs.int('training_mode', 0) !== 0) this.fail('BatchNormalization in training mode')
    const [scale, shift, mean, variance] = ['scale', 'B', 'mean', 'var'].map((what, i) =>
      this.bias(params[i] ?? '', step.outC, `BatchNormalization ${what}`, false),
    ) as [Float32Array, Float32Array, Float32Array, Float32Array]
    const folded = foldBatchNorm(step.weight, step.bias, {
      scale,
      shift,
      mean,
      variance,
      epsilon: this.attrs.float('epsilon', 1e-5),
    })
    step.weight = folded.weight
    step.bias = folded.bias
    this.rename(step, out)
  }

  private pool(op: string, a: string, out: string): void {
    const x = this.image(a, op)
    const shape = poolShape(this.attrs, op, x.shape)
    this.push({ op: 'pool', input: x.name, output: out, ...shape }, [shape.channels, shape.outH, shape.outW])
  }

  private flatten(a: string, out: string): void {
    const x = this.value(a)
    const axis = this.attrs.int('axis', 1)
    if (axis !== 1 && axis !== 1 - (x.shape.length + 1))
      this.fail(`Flatten on axis ${axis} (only 1: the batch stays first)`)
    this.alias(out, a, [size(x.shape)])
  }

  private reshape(a: string, b: string, out: string): void {
    const x = this.value(a)
    const t = this.graph.initializers.get(b)
    if (t?.ints === undefined || t.dataType !== 7 || t.dims.length !== 1)
      this.fail('Reshape whose shape is not an int64 initializer')
    this.alias(out, a, reshapeShape(this.attrs, x.shape, t.ints))
  }

  /** Record `out` as another name of `input`'s buffer, with its own per-row shape. */
  private alias(out: string, input: string, shape: number[]): void {
    const x = this.value(input)
    this.define(out, shape)
    this.aliases.set(out, x.name)
  }

  private push(step: Step, shape: number[]): void {
    this.define(step.output, shape)
    this.steps.push(step)
    this.producer.set(step.output, step)
  }

  /** Fold a node into `step`: the step now writes the node's output `out` (same shape) instead. */
  private rename(step: Step, out: string): void {
    const shape = this.shapes.get(step.output) as number[]
    this.shapes.delete(step.output)
    this.producer.delete(step.output)
    step.output = out
    this.define(out, shape)
    this.producer.set(out, step)
  }

  /** The step writing `name` when a node may fold into it: `name` read once, and not a graph output. */
  private fusable(name: string): Step | undefined {
    if (this.readCount(name) !== 1 || this.graphOutputs.has(name)) return undefined
    return this.producer.get(name)
  }

  private define(name: string, shape: number[]): void {
    if (this.shapes.has(name) || this.graph.initializers.has(name)) this.fail(`value '${name}' is written twice`)
    if (size(shape) > MAX_ROW_ELEMENTS) this.fail(`value '${name}' has ${size(shape)} elements per row (at most 2^28)`)
    this.shapes.set(name, shape)
  }

  /** A runtime value: its buffer's name (aliases resolved) and its per-row shape under `name`. */
  private value(name: string): PlanValue {
    const shape = this.shapes.get(name)
    if (shape !== undefined) return { name: this.aliases.get(name) ?? name, shape }
    if (this.graph.initializers.has(name)) this.fail(`the constant '${name}' where a computed value is needed`)
    return this.fail(`'${name}' is read before it is computed`)
  }

  /** A runtime value that is a matrix: [batch, k]. */
  private vector(name: string, op: string): PlanValue {
    const x = this.value(name)
    if (x.shape.length !== 1) this.fail(`${op} of a rank-${x.shape.length + 1} input (only 2-D)`)
    return x
  }

  /** A runtime value that is an NCHW image: [batch, C, H, W]. */
  private image(name: string, op: string): PlanValue {
    const x = this.value(name)
    if (x.shape.length !== 3) this.fail(`${op} of a rank-${x.shape.length + 1} input (only 4-D NCHW)`)
    return x
  }

  private weight(name: string, what: string, rank?: number): Weight {
    const w = weightOf(this.graph.initializers, this.attrs, name, what, rank)
    if (this.usedWeights.has(name)) this.fail(`${what} '${name}' is also the weight of an earlier node`)
    this.usedWeights.add(name)
    return w
  }

  private bias(name: string, n: number, what: string, scalar: boolean): Float32Array {
    return biasOf(this.graph.initializers, this.attrs, name, n, what, scalar)
  }

  private readCount(name: string): number {
    return this.readers.get(name) ?? 0
  }

  /** Stop planning: `reason`, with the node it concerns; names are cut (a hostile model's may be megabytes). */
  private fail(reason: string): never {
    const n = this.node
    const why = cut(reason, 400)
    throw new Unsupported(
      n === undefined ? why : `${why}, at node ${cut(n.name, 80) || `#${this.nodeIndex} (${n.op})`}`,
    )
  }
}
