/**
 * Runs async tasks one at a time in arrival order. onnxruntime sessions (and sessions sharing a
 * WebGPU device) must not run concurrently; callers queue here instead of racing `run()`.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private pending = 0

  /** Tasks queued or running. */
  get depth(): number {
    return this.pending
  }

  /** Queue `task`; it starts after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++
    const result = this.tail.then(task, task)
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    )
    return result
  }
}
