/**
 * The job reader's Arrow path shares the inference checks: a file whose batch headers lie is
 * refused when it is opened (metadata only, before a job exists); a lie only the body shows
 * (offsets) is refused when that batch is read, never handed to flechette.
 */
import { rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fixedSizeList, float32, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { openReader } from '../../src/jobs/io/index.js'
import { claimingRows, firstBatch, messagesOf, withInt64 } from '../fuzz/arrow-craft.js'
import { tempDir } from '../helpers/server.js'

const dir = tempDir('lastmile-arrow-jobs-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const write = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}
const table = (rows: number, maxBatchRows?: number) =>
  tableFromArrays(
    {
      x: Array.from({ length: rows }, (_, i) => Float32Array.of(i, -i)),
      s: Array.from({ length: rows }, (_, i) => `r${i}`),
    },
    { types: { x: fixedSizeList(float32(), 2), s: utf8() }, ...(maxBatchRows ? { maxBatchRows } : {}) },
  )

describe('Arrow job files', () => {
  it('reads a valid file and counts its rows from the batches', async () => {
    const reader = await openReader(
      write('ok.arrow', tableToIPC(table(10, 4), { format: 'file' }) as Uint8Array),
      'arrow',
    )
    expect(reader.totalRows).toBe(10)
    const chunk = await reader.next(100)
    await reader.close()
    expect(chunk?.rows).toBe(10)
    expect(chunk?.columns.s?.[9]).toBe('r9')
  })

  it.each(['file', 'stream'] as const)('refuses at open a %s whose later batch claims 1e9 rows', async (format) => {
    const bytes = tableToIPC(table(9, 3), { format }) as Uint8Array
    const third = messagesOf(bytes).filter((m) => m.type === 3)[2]
    if (!third) throw new Error('expected three batches')
    for (const lie of [withInt64(bytes, third.lengthAt as number, 1e9), claimingRows(bytes, third, 1e9)]) {
      const path = write(`lie.${format}`, lie)
      const t0 = performance.now()
      const error = await openReader(path, 'arrow').catch((e: Error) => e)
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect((error as Error).message).toMatch(/'lie\.(file|stream)', message 3: column '(x|x\[\]|s)' has/)
      expect(performance.now() - t0).toBeLessThan(2000)
    }
  })

  it('refuses at open a metadata length past the file, and a body past its end', async () => {
    const bytes = tableToIPC(table(5), { format: 'stream' }) as Uint8Array
    const batch = firstBatch(bytes)
    const meta = bytes.slice()
    new DataView(meta.buffer).setInt32(batch.start + 4, 2 ** 30, true)
    await expect(openReader(write('meta.arrows', meta), 'arrow')).rejects.toThrow(
      /a metadata length of 1073741824 bytes \(at most 67108864 are read\)/,
    )
    const body = withInt64(bytes, batch.bodyLengthAt as number, 1e12)
    await expect(openReader(write('body.arrows', body), 'arrow')).rejects.toThrow(
      /a message body past the end of the file/,
    )
  })

  it('refuses at open a record batch over 1 GiB (a sparse file: no disk is used)', async () => {
    const bytes = tableToIPC(table(5), { format: 'stream' }) as Uint8Array
    const batch = firstBatch(bytes)
    const huge = 1.5 * 2 ** 30
    // The batch's body now runs to the end of a file extended by truncate (no end-of-stream marker).
    const lie = withInt64(bytes, batch.bodyLengthAt as number, huge).subarray(0, batch.bodyStart)
    const path = write('huge.arrows', lie)
    truncateSync(path, batch.bodyStart + huge)
    await expect(openReader(path, 'arrow')).rejects.toThrow(
      /'huge\.arrows' has a message of 1610612736 bytes at byte \d+; record batches of at most 1073741824 bytes are read/,
    )
  })

  it('refuses when read a batch whose offsets lie (only its body shows it)', async () => {
    const bytes = tableToIPC(table(5), { format: 'stream' }) as Uint8Array
    const batch = firstBatch(bytes)
    // Buffers in pre-order: x validity, its child's validity and values, then s validity, offsets, data.
    const view = new DataView(bytes.buffer)
    const offsets = batch.bodyStart + Number(view.getBigInt64(batch.buffersAt[4] as number, true))
    const lie = bytes.slice()
    new DataView(lie.buffer).setInt32(offsets + 4 * 5, 1e6, true)
    const reader = await openReader(write('offsets.arrows', lie), 'arrow')
    const error = await reader.next(10).catch((e: Error) => e)
    await reader.close()
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect((error as Error).message).toMatch(/column 's' has a last offset 1000000, past the \d+ bytes of data/)
  })
})
