/**
 * Turns for large request bodies: `capacity` at once, `queue` more waiting in order, the next
 * refused; a waiter whose signal aborts leaves the queue, and no waiter leaves a listener behind
 * on its signal once it is done waiting (a keep-alive connection's signal outlives many requests).
 */
import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { QueueFullError } from '../../src/errors.js'
import { Turns } from '../../src/formats/turns.js'

/** Whether a promise has settled, after the microtasks now queued have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  await new Promise((r) => setImmediate(r))
  return done
}

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

describe('Turns', () => {
  it('admits capacity at once, queues up to queue more, and refuses the next with a message', async () => {
    const turns = new Turns(2, 1)
    const first = await turns.admit()
    await turns.admit()
    expect(turns.admitted).toBe(2)
    const third = turns.admit()
    expect(turns.waiting).toBe(1)
    const refused = await turns.admit().catch((e: unknown) => e as Error)
    expect(refused).toBeInstanceOf(QueueFullError)
    expect((refused as Error).message).toBe(
      '2 large request bodies are being worked on and 1 wait (LASTMILE_BODY_WORKERS, LASTMILE_LARGE_BODIES_PER_WORKER, LASTMILE_LARGE_BODY_QUEUE); retry shortly',
    )
    expect(await settled(third)).toBe(false)
    first()
    expect(await settled(third)).toBe(true)
    // The turn passed straight on.
    expect(turns.admitted).toBe(2)
    expect(turns.waiting).toBe(0)
    first() // idempotent: no second hand-back
    expect(turns.admitted).toBe(2)
    ;(await third)()
    expect(turns.admitted).toBe(1)
  })

  it('refuses at once with a queue of 0', async () => {
    const turns = new Turns(1, 0)
    await turns.admit()
    const refused = await turns.admit().catch((e: unknown) => e as Error)
    expect(refused).toBeInstanceOf(QueueFullError)
    expect((refused as Error).message).toBe(
      '1 large request bodies are being worked on and 0 wait (LASTMILE_BODY_WORKERS, LASTMILE_LARGE_BODIES_PER_WORKER, LASTMILE_LARGE_BODY_QUEUE); retry shortly',
    )
  })

  it('refuses a request whose signal already aborted, taking no turn', async () => {
    const turns = new Turns(1, 1)
    const controller = new AbortController()
    const reason = new Error('client went')
    controller.abort(reason)
    await expect(turns.admit(controller.signal)).rejects.toBe(reason)
    expect(turns.admitted).toBe(0)
  })

  it('drops a waiter whose signal aborts, with the reason, and stops listening', async () => {
    const turns = new Turns(1, 2)
    const release = await turns.admit()
    const a = new AbortController()
    const b = new AbortController()
    const gone = turns.admit(a.signal)
    const stays = turns.admit(b.signal)
    expect(turns.waiting).toBe(2)
    expect(listeners(a.signal)).toBe(1)
    const reason = new Error('client closed the connection')
    a.abort(reason)
    await expect(gone).rejects.toBe(reason)
    expect(turns.waiting).toBe(1)
    expect(listeners(a.signal)).toBe(0)
    // The turn goes to the waiter left, not to the one that left.
    release()
    expect(await settled(stays)).toBe(true)
    expect(turns.admitted).toBe(1)
    expect(listeners(b.signal)).toBe(0)
  })

  it('hands the turn back when nobody waits', async () => {
    const turns = new Turns(1, 1)
    const release = await turns.admit()
    release()
    expect(turns.admitted).toBe(0)
    const again = await turns.admit()
    expect(turns.admitted).toBe(1)
    again()
    expect(turns.admitted).toBe(0)
  })

  it('fails every waiter on rejectWaiting, with or without a signal, and keeps the turns taken', async () => {
    const turns = new Turns(1, 3)
    await turns.admit()
    const controller = new AbortController()
    const withSignal = turns.admit(controller.signal)
    const without = turns.admit()
    expect(turns.waiting).toBe(2)
    const error = new Error('shutting down')
    turns.rejectWaiting(error)
    await expect(withSignal).rejects.toBe(error)
    await expect(without).rejects.toBe(error)
    expect(turns.waiting).toBe(0)
    expect(turns.admitted).toBe(1)
    expect(listeners(controller.signal)).toBe(0)
  })
})
