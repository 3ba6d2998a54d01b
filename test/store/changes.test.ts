/**
 * The change feed on each backend: a topic published by one store reaches the subscribers of
 * another store open on the same database (another process), and of the publisher itself; an
 * unsubscribed listener hears nothing more; a listener that throws does not stop the others. On
 * PostgreSQL, the LISTEN connection that drops is connected again.
 */
import { describe, expect, it } from 'vitest'
import { LISTENER_NAME } from '../../src/store/pg-changes.js'
import { BACKENDS } from './backends.js'

/** Generous: delivery is promised within a second; the bound only keeps a broken feed from hanging the suite. */
const WITHIN = { timeout: 5000 }

describe.each(BACKENDS)('the change feed on $name', (backend) => {
  const { open, cluster } = backend.use()

  it('tells the subscribers of every store on the database, the publisher included', async () => {
    const { store, again } = await open()
    const other = await again()
    const heardHere: string[] = []
    const heardThere: string[] = []
    const stopHere = store.changes.subscribe((t) => heardHere.push(t))
    const stopThere = other.changes.subscribe((t) => heardThere.push(t))
    await store.changes.publish('deployments')
    await expect.poll(() => heardThere, WITHIN).toEqual(['deployments'])
    await expect.poll(() => heardHere, WITHIN).toEqual(['deployments'])
    await other.changes.publish('keys')
    await expect.poll(() => heardHere, WITHIN).toEqual(['deployments', 'keys'])
    await expect.poll(() => heardThere, WITHIN).toEqual(['deployments', 'keys'])
    stopHere()
    stopThere()
  })

  it('stops telling an unsubscribed listener, and keeps telling the others when one throws', async () => {
    const { store, again } = await open()
    const publisher = await again()
    const kept: string[] = []
    const dropped: string[] = []
    store.changes.subscribe(() => {
      throw new Error('a broken listener')
    })
    store.changes.subscribe((t) => kept.push(t))
    const stop = store.changes.subscribe((t) => dropped.push(t))
    await publisher.changes.publish('jobs')
    await expect.poll(() => kept, WITHIN).toEqual(['jobs'])
    expect(dropped).toEqual(['jobs'])
    stop()
    await publisher.changes.publish('keys')
    await expect.poll(() => kept, WITHIN).toEqual(['jobs', 'keys'])
    expect(dropped).toEqual(['jobs'])
  })

  if (cluster) {
    it('connects its LISTEN connection again when the database drops it', async () => {
      const { store, storeUrl, again } = await open()
      const publisher = await again()
      const heard: string[] = []
      store.changes.subscribe((t) => heard.push(t))
      const listener = async () =>
        (
          await cluster?.sql(
            storeUrl,
            'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
            [LISTENER_NAME],
          )
        )?.rows.map((r) => r.pid as number) ?? []
      await expect.poll(listener, WITHIN).toHaveLength(1)
      const [first] = await listener()
      await cluster?.sql(storeUrl, 'SELECT pg_terminate_backend($1)', [first])
      // A new listening connection, not the one terminated.
      await expect
        .poll(async () => (await listener()).filter((pid) => pid !== first), { timeout: 15_000 })
        .toHaveLength(1)
      await publisher.changes.publish('deployments')
      await expect.poll(() => heard, WITHIN).toEqual(['deployments'])
    })
  }
})
