import { describe, expect, it } from 'vitest'
import { SerialQueue } from '../../src/engine/serial-queue.js'

describe('serial queue', () => {
  it('runs tasks one at a time in arrival order', async () => {
    const q = new SerialQueue()
    let running = 0
    let maxRunning = 0
    const order: number[] = []
    const tasks = Array.from({ length: 20 }, (_, i) =>
      q.run(async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await new Promise((r) => setTimeout(r, Math.random() * 3))
        order.push(i)
        running--
        return i * 2
      }),
    )
    expect(q.depth).toBe(20)
    expect(await Promise.all(tasks)).toEqual(Array.from({ length: 20 }, (_, i) => i * 2))
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(maxRunning).toBe(1)
    expect(q.depth).toBe(0)
  })
  it('keeps going after a task fails', async () => {
    const q = new SerialQueue()
    const a = q.run(async () => {
      throw new Error('boom')
    })
    const b = q.run(async () => 'after')
    await expect(a).rejects.toThrow('boom')
    await expect(b).resolves.toBe('after')
  })
})
