/**
 * Reuses GPU buffers across batches: sizes round up to power-of-two buckets (from 256 B), and a
 * released buffer serves the next request for the same bucket and usage. Released buffers must
 * not be in use by unsubmitted work: `GpuContext` releases a batch's temporaries only after its
 * command buffer is submitted (later writes are then ordered after that work on the queue).
 */

const MIN_BUCKET = 256
/** Free buffers kept for reuse, in bytes, before the largest are destroyed. */
const DEFAULT_MAX_FREE_BYTES = 256 * 1024 * 1024

/** Bucket size for a request: the next power of two, at least 256 B. */
function bucketSize(bytes: number): number {
  let size = MIN_BUCKET
  while (size < bytes) size *= 2
  return size
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>()
  private freeBytes = 0
  private created = 0

  constructor(
    private readonly device: GPUDevice,
    private readonly maxFreeBytes = DEFAULT_MAX_FREE_BYTES,
  ) {}

  /** A buffer of at least `bytes` with exactly `usage`, labelled `label`. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = bucketSize(bytes)
    const list = this.free.get(`${usage}:${size}`)
    const reused = list?.pop()
    if (reused) {
      this.freeBytes -= size
      reused.label = label
      return reused
    }
    this.created++
    return this.device.createBuffer({ label, size, usage })
  }

  /** Return a buffer for reuse (destroyed instead when the pool already holds enough). */
  release(buffer: GPUBuffer): void {
    if (this.freeBytes + buffer.size > this.maxFreeBytes) {
      buffer.destroy()
      return
    }
    const key = `${buffer.usage}:${buffer.size}`
    const list = this.free.get(key) ?? []
    list.push(buffer)
    this.free.set(key, list)
    this.freeBytes += buffer.size
  }

  /** Buffers created so far and bytes held free (diagnostics, tests). */
  stats(): { created: number; freeBytes: number } {
    return { created: this.created, freeBytes: this.freeBytes }
  }

  /** Destroy every free buffer. */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy()
    this.free.clear()
    this.freeBytes = 0
  }
}
