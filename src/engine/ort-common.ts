/**
 * What the onnxruntime-node and onnxruntime-web backends share: converting tensors at the edge,
 * reading input/output metadata, and turning onnxruntime's error strings into typed errors.
 * Both packages expose the same onnxruntime-common API, with their own `Tensor` classes.
 */
import type * as OrtWeb from 'onnxruntime-web'
import {
  errorMessage,
  InferenceError,
  InvalidInputError,
  InvalidModelError,
  LastmileError,
  UnsupportedModelError,
} from '../errors.js'
import { type DType, type HostTensor, isDType, type TensorSpec } from './tensor.js'

/** The slice of an onnxruntime module the backends use (onnxruntime-node and -web both fit). */
export interface OrtModule {
  Tensor: typeof OrtWeb.Tensor
  InferenceSession: typeof OrtWeb.InferenceSession
}
export type OrtTensor = OrtWeb.Tensor
export type OrtSession = OrtWeb.InferenceSession

/** Wrap a host tensor in the module's own Tensor class (no copy). */
export function toOrtTensor(ort: OrtModule, t: HostTensor): OrtTensor {
  return new ort.Tensor(t.dtype, t.data as never, t.dims)
}

/** Copy an onnxruntime CPU tensor into a host tensor. */
export function fromOrtTensor(name: string, t: OrtTensor): HostTensor {
  if (!isDType(t.type))
    throw new UnsupportedModelError(`output '${name}' has dtype ${t.type}, which lastmile does not support`)
  // Copy: the web build's views may alias wasm memory that the next run overwrites.
  const data = (t.data as unknown as { slice(): HostTensor['data'] }).slice()
  return { dtype: t.type as DType, dims: [...t.dims], data }
}

type ValueMetadata = OrtSession['inputMetadata'][number]

/** Input or output specs from session metadata; rejects non-tensor values with a clear reason. */
export function specsFrom(kind: 'input' | 'output', metadata: readonly ValueMetadata[]): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) {
      throw new UnsupportedModelError(
        `${kind} '${m.name}' is a sequence or map, not a tensor (skl2onnx's ZipMap makes these: export with zipmap=False)`,
      )
    }
    if (!isDType(m.type)) {
      throw new UnsupportedModelError(`${kind} '${m.name}' has dtype ${m.type}; supported: numeric and bool tensors`)
    }
    const shape = m.shape.map((d) =>
      typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d !== '' ? d : '?',
    )
    return { name: m.name, dtype: m.type, shape }
  })
}

/** Typed error for a failure while creating a session from model bytes. */
export function loadError(e: unknown, backend: string): LastmileError {
  if (e instanceof LastmileError) return e
  let msg = cleanOrtMessage(errorMessage(e))
  // The web build with the WebGPU EP says so from a graph pass, not as a missing kernel.
  const unplaced = /Provider type for (\w+) node with name '([^']*)' is not set/.exec(msg)
  if (unplaced) msg = `no kernel for ${unplaced[1]} node '${unplaced[2]}', on the GPU or its CPU fallback`
  const op =
    /No Op registered for (\w+)|Could not find an implementation for (\w+)|not supported op(?:erator)?[: ]+(\w+)|no kernel for (\w+) node/i.exec(
      msg,
    )
  if (op) {
    const name = op[1] ?? op[2] ?? op[3] ?? op[4]
    return new UnsupportedModelError(`the ${backend} backend cannot run operator ${name}: ${msg}${webHint(backend)}`, {
      cause: e,
      details: { operator: name, backend },
    })
  }
  if (/protobuf|parse|Load model|invalid model|ModelProto|is not a valid|Failed to load model|graph|opset/i.test(msg)) {
    return new InvalidModelError(`not a valid ONNX model: ${msg}`, { cause: e, details: { backend } })
  }
  return new InvalidModelError(`the ${backend} backend could not load the model: ${msg}`, {
    cause: e,
    details: { backend },
  })
}

/**
 * What to do when onnxruntime-web lacks a kernel: its build leaves out the ai.onnx.ml operators and
 * some operators' float64, int16 and uint16 kernels (Cast, Add, …), which native onnxruntime has.
 */
function webHint(backend: string): string {
  if (backend !== 'wasm' && backend !== 'webgpu') return ''
  return `. onnxruntime-web lacks kernels that native onnxruntime has (the ai.onnx.ml operators; float64, int16 and uint16 for operators such as Cast and Add): deploy with "engine": "cpu" to run this model`
}

/** Typed error for a failure inside `run()` (inputs were validated before). */
export function runError(e: unknown, backend: string): LastmileError {
  if (e instanceof LastmileError) return e
  const msg = cleanOrtMessage(errorMessage(e))
  if (
    /Unexpected input data type|input.*(dimension|shape|rank)|Got invalid dimensions|index .* out of bounds|indices element out of data bounds/i.test(
      msg,
    )
  ) {
    return new InvalidInputError(`the model rejected the input: ${msg}`)
  }
  return new InferenceError(`${backend} inference failed: ${msg || 'unknown runtime error'}`, { cause: e })
}

/** onnxruntime prefixes messages with source paths and error codes; keep the human part. */
function cleanOrtMessage(msg: string): string {
  return msg
    .replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g, '')
    .replace(/ERROR_CODE: \d+, ERROR_MESSAGE: /, '')
    .replace(/^Can't create a session\.\s*/, '')
    .trim()
}
