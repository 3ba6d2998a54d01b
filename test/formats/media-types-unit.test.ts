/**
 * The media types lastmile answers with and reads (src/formats/media-types.ts): exactly the
 * registered strings (RFC 8259's JSON, Apache Arrow's IANA registrations of its IPC stream and file
 * framings, RFC 2046's octet-stream) and pandas-records' JSON with a format parameter, and the OIP
 * answers' types as encodeBody labels them.
 */
import { describe, expect, it } from 'vitest'
import type { HostTensor } from '../../src/engine/tensor.js'
import { encodeBody } from '../../src/formats/body-codec.js'
import { ARROW_TYPES, BYTES_TYPE, JSON_TYPE, RECORDS_TYPE } from '../../src/formats/media-types.js'

describe('media types', () => {
  it('are the registered strings', () => {
    expect(JSON_TYPE).toBe('application/json')
    expect(RECORDS_TYPE).toBe('application/json; format=pandas-records')
    expect(BYTES_TYPE).toBe('application/octet-stream')
    expect(ARROW_TYPES).toEqual({
      stream: 'application/vnd.apache.arrow.stream',
      file: 'application/vnd.apache.arrow.file',
    })
  })

  it('label OIP answers: JSON without binary data, octet-stream with it', () => {
    const y: HostTensor = { dtype: 'float32', dims: [2, 1], data: Float32Array.of(0.5, -2) }
    const rows = { rowModels: ['m:1', 'm:1'], checkFailures: [0, 0] }
    const task = (binaryAll: boolean) =>
      ({
        kind: 'oip',
        model: { name: 'm', version: '1' },
        request: { binaryAll, nonFiniteAsNull: false },
        outputs: { y },
        rows,
      }) as const
    const json = encodeBody(task(false))
    expect(json.type).toBe('application/json')
    expect(typeof json.body).toBe('string')
    expect(encodeBody(task(false), true).type).toBe('application/json')
    const binary = encodeBody(task(true))
    expect(binary.type).toBe('application/octet-stream')
    expect(binary.body).toBeInstanceOf(Uint8Array)
  })
})
