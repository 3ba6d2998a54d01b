/**
 * The Node shims that let browser-shaped WebGPU code (onnxruntime-web, our kernels) run on
 * Dawn's node bindings; the README's "Platform notes" lists them with the other measures
 * (`--liftoff-only`, one device passed per session).
 */

let globalsInstalled = false

/**
 * Install Dawn's WebGPU globals (GPUBufferUsage, GPUMapMode, GPUDevice, ...) and patch
 * `GPUQueue.prototype.writeBuffer`: dawn.node rejects views on a SharedArrayBuffer
 * ("Invalid argument"), and onnxruntime-web's wasm memory is shared, so such views are copied
 * into a plain buffer first. Idempotent.
 */
export function installWebGpuGlobals(globals: object): void {
  if (globalsInstalled) return
  Object.assign(globalThis, globals)
  const proto = (globalThis as unknown as { GPUQueue: { prototype: GPUQueue } }).GPUQueue.prototype
  const original = proto.writeBuffer
  proto.writeBuffer = function writeBuffer(this: GPUQueue, buffer, offset, data, dataOffset, size) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
      // Keep the element type: dataOffset and size count elements of the original view.
      const Ctor = data.constructor as new (b: ArrayBuffer) => ArrayBufferView
      data = new Ctor(bytes.buffer) as typeof data
    }
    return original.call(this, buffer, offset, data as GPUAllowSharedBufferSource, dataOffset, size)
  } as GPUQueue['writeBuffer']
  globalsInstalled = true
}

/**
 * Make `navigator.gpu` answer with `gpu` (onnxruntime-web checks for it). Node 20 has no
 * `navigator`; newer Node has one without `gpu`.
 */
export function setNavigatorGpu(gpu: GPU): void {
  const g = globalThis as unknown as { navigator?: object }
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true })
  }
  Object.defineProperty(g.navigator as object, 'gpu', { value: gpu, configurable: true, writable: true })
}

/**
 * Wrap `gpu` so that every `requestAdapter` asks for `featureLevel: 'compatibility'`, which
 * Dawn's OpenGL ES backend needs (a core request returns null there).
 */
export function withFeatureLevel(gpu: GPU, featureLevel: 'core' | 'compatibility'): GPU {
  if (featureLevel === 'core') return gpu
  return new Proxy(gpu, {
    get(target, prop) {
      if (prop === 'requestAdapter') {
        return (opts: GPURequestAdapterOptions = {}) =>
          target.requestAdapter({ ...opts, featureLevel } as GPURequestAdapterOptions)
      }
      const value = Reflect.get(target, prop)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
