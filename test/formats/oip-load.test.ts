/**
 * The OIP codec modules load and work when imported on their own. The imports are dynamic, inside
 * the tests, so that a module whose top-level code throws (its datatype table, its UTF-8 decoder)
 * fails a test here rather than only the loading of the files that import it statically.
 */
import { describe, expect, it } from 'vitest'

describe('loading the OIP codec', () => {
  it('reads every datatype name through the table built at load', async () => {
    const { decodeOipRequest } = await import('../../src/formats/oip.js')
    const r = decodeOipRequest(
      {
        inputs: [
          { name: 'a', datatype: 'FP64', shape: [1], data: [0.25] },
          { name: 'b', datatype: 'UINT32', shape: [1], data: [7] },
        ],
      },
      undefined,
      [],
    )
    expect(r.feeds).toStrictEqual({
      a: { dtype: 'float64', dims: [1], data: Float64Array.of(0.25) },
      b: { dtype: 'uint32', dims: [1], data: Uint32Array.of(7) },
    })
  })

  it('decodes BYTES elements as UTF-8 with the decoder made at load', async () => {
    const { bytesTensor } = await import('../../src/formats/oip-binary.js')
    const { TensorBudget } = await import('../../src/formats/limits.js')
    const t = bytesTensor('k', [1], Uint8Array.of(2, 0, 0, 0, 0xc3, 0xa9), 0, 6, new TensorBudget(64))
    expect(t.data).toStrictEqual(['é'])
  })
})
