/**
 * Hostile Parquet files, built byte by byte (test/fuzz/parquet-craft.ts): every claim of the
 * footer (row counts, column chunk offsets and sizes, file paths, the footer's own length) is
 * checked against the file before parquet-wasm opens it; every page header of a row group before
 * it is decoded (a 150-byte file claiming a 2 GiB page grew the process by 2 GiB before); and a
 * WebAssembly trap in the decoder fails that read only, in its own thread, while the next file
 * decodes in a fresh one.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { openReader } from '../../src/jobs/io/index.js'
import { craftParquet } from '../fuzz/parquet-craft.js'
import { clientFor, doubler, tempDir, testServer } from '../helpers/server.js'

const GROUPS = [
  [1, 2.5, -3],
  [4, 1e300],
]

function file(bytes: Uint8Array): string {
  const path = join(tempDir(), 'crafted.parquet')
  writeFileSync(path, bytes)
  return path
}

async function values(bytes: Uint8Array): Promise<unknown[]> {
  const reader = await openReader(file(bytes), 'parquet')
  const out: unknown[] = []
  try {
    for (let c = await reader.next(2); c; c = await reader.next(2))
      out.push(...Array.from(c.columns.x as ArrayLike<unknown>))
  } finally {
    await reader.close()
  }
  return out
}

describe('hostile parquet files', () => {
  it('reads the crafted files as written, uncompressed and snappy', async () => {
    expect(await values(craftParquet(GROUPS))).toEqual([1, 2.5, -3, 4, 1e300])
    expect(await values(craftParquet(GROUPS, {}, 'snappy'))).toEqual([1, 2.5, -3, 4, 1e300])
  })

  it('refuses a footer whose claims do not hold up, naming the claim', async () => {
    const refused = async (bytes: Uint8Array, message: RegExp) => {
      await expect(openReader(file(bytes), 'parquet')).rejects.toThrow(message)
    }
    await refused(craftParquet(GROUPS, { fileRows: 6 }), /its row groups hold 5 rows; its footer says 6/)
    await refused(
      craftParquet(GROUPS, { offsetShift: [0, 10_000] }),
      /row group 1, column 'x' claims bytes \d+\.\.\d+; the data lies in bytes 4\.\.\d+/,
    )
    await refused(craftParquet(GROUPS, { offsetShift: [-100, 0] }), /row group 0, column 'x' claims bytes -\d+/)
    await refused(
      craftParquet(GROUPS, { chunkCompressed: [1e9, 40] }),
      /row group 0, column 'x' claims bytes 4\.\.1000000004/,
    )
    await refused(craftParquet(GROUPS, { groupRows: [-1, 2], fileRows: 1 }), /footer is damaged: num_rows is -1/)
    await refused(
      craftParquet(GROUPS, { filePath: '../../lastmile.db' }),
      /names another file \('..\/..\/lastmile.db'\); lastmile reads self-contained files only/,
    )
    const good = craftParquet(GROUPS)
    const lying = good.slice()
    new DataView(lying.buffer).setUint32(lying.length - 8, 2 ** 31, true) // the footer's length
    await refused(lying, /its footer claims 2147483648 bytes; the file has \d+ besides its markers/)
    const cut = good.slice()
    const footerLength = new DataView(cut.buffer).getUint32(cut.length - 8, true)
    cut[cut.length - 8 - footerLength + 3] = 0xf9 // the schema list: a long list whose count follows
    cut[cut.length - 8 - footerLength + 4] = 0xff // ...and claims far more items than there are bytes
    await refused(cut, /its footer is damaged/)
  })

  it('refuses a page that claims more than it may, before decoding its row group', async () => {
    const bomb = craftParquet(GROUPS, { pageUncompressed: [2 ** 31 - 1, 16] }, 'snappy')
    const before = process.memoryUsage().rss
    let peak = before
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 5)
    await expect(values(bomb)).rejects.toThrow(
      `row group 0, column 'x': the page at byte 4 claims 2147483647 bytes uncompressed; lastmile reads pages of up to 268435456`,
    )
    clearInterval(sample)
    expect(peak - before).toBeLessThan(256 * 2 ** 20)
    // Row group 0 is fine; the page of row group 1 claims bytes past its column chunk.
    const reader = await openReader(file(craftParquet(GROUPS, { pageCompressed: [undefined, 400] })), 'parquet')
    expect(Array.from((await reader.next(3))?.columns.x as ArrayLike<number>)).toEqual([1, 2.5, -3])
    await expect(reader.next(3)).rejects.toThrow(
      /row group 1, column 'x': the page at byte \d+ claims 400 bytes; its column chunk ends at byte \d+/,
    )
    await reader.close()
  })

  it('fails a read the decoder traps on, and decodes the next file in a fresh thread', async () => {
    // A snappy page whose header claims fewer bytes than its block holds: parquet-wasm panics.
    const trap = craftParquet(GROUPS, { pageUncompressed: [8, 16] }, 'snappy')
    await expect(values(trap)).rejects.toThrow(
      /cannot be read as Parquet: the Parquet decoder failed on it \(unreachable\)/,
    )
    expect(await values(craftParquet(GROUPS, {}, 'snappy'))).toEqual([1, 2.5, -3, 4, 1e300])
  })

  it('opens more files at once than there are decoder threads, each in turn', async () => {
    const path = file(craftParquet(GROUPS, {}, 'snappy'))
    const all = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const reader = await openReader(path, 'parquet')
        try {
          return Array.from((await reader.next(10))?.columns.x as ArrayLike<number>)
        } finally {
          await reader.close()
        }
      }),
    )
    expect(all).toEqual(Array.from({ length: 40 }, () => [1, 2.5, -3, 4, 1e300]))
  })

  it('refuses a bad footer with a 400 before the 202, and fails a job on a trap with the reason', async () => {
    const s = await testServer()
    try {
      const lm = clientFor(s.app)
      await lm.uploadModel('default', 'd', doubler(1))
      await lm.putPipeline('default', 'd', [{ model: 'd' }])
      await lm.deploy('default', 'd', { engine: 'cpu' })
      await expect(
        lm.createJob('default', 'd', craftParquet(GROUPS, { fileRows: 9 }), { format: 'parquet', features: ['x'] }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/row groups hold 5 rows; its footer says 9/),
      })
      const trap = craftParquet(GROUPS, { pageUncompressed: [8, 16] }, 'snappy')
      const job = await lm.createJob('default', 'd', trap, { format: 'parquet', features: ['x'] })
      const failed = await vi.waitFor(
        async () => {
          const j = await lm.job(job.id)
          if (j.status !== 'failed') throw new Error(j.status)
          return j
        },
        { timeout: 30_000, interval: 20 },
      )
      expect(failed.error).toMatch(/the Parquet decoder failed on it/)
      const good = await lm.createJob(
        'default',
        'd',
        craftParquet([
          [1, 2.5],
          [-3, 0.25],
        ]),
        {
          format: 'parquet',
          features: ['x'],
        },
      )
      await vi.waitFor(
        async () => {
          if ((await lm.job(good.id)).status !== 'succeeded') throw new Error('not yet')
        },
        { timeout: 30_000, interval: 20 },
      )
      const rows = (await (await lm.jobResult(good.id, 'jsonl')).text()).trim().split('\n')
      expect(rows.map((r) => JSON.parse(r)['out.y'])).toEqual([2, 5, -6, 0.5])
    } finally {
      await s.shutdown()
    }
  })
})
