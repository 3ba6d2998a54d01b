/**
 * JSON numbers in a BYTES key column are read as their text (review F10): a 20-digit integer such
 * as 12345678901234567890, which the exact JSON parser reads as a bigint, was refused with
 * "expected a string or a number". Routed by a key_split pipeline, so the answer's per-row models
 * show which text each key became: the option named by the same digits, or the default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doubler, testServer } from '../helpers/server.js'

describe('JSON numbers in a BYTES key column', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    await s.deps.manager.deploy({
      workspace: 'default',
      pipeline: 'routed',
      pipelineVersion: 1,
      steps: [
        {
          key_split: {
            key: 'region',
            options: { '12345678901234567890': 'big:1', '9007199254740993': 'big:1', '42': 'small:1' },
            default: 'other:1',
          },
        },
      ],
      models: { 'big:1': doubler(1), 'small:1': doubler(1), 'other:1': doubler(1) },
    })
  })
  afterAll(() => s.shutdown())

  /** The model each row went to, for `region` as the JSON text `data`. */
  const routed = async (data: string, rows: number) => {
    const x = Array.from({ length: rows }, (_, i) => i)
    const body = `{"inputs":[{"name":"x","shape":[${rows},1],"datatype":"FP32","data":${JSON.stringify(x)}},{"name":"region","shape":[${rows}],"datatype":"BYTES","data":${data}}]}`
    const res = await s.app.request('/v2/models/routed/infer', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    const answer = (await res.json()) as { parameters?: { model?: string; models?: string }; error?: string }
    expect(res.status, answer.error).toBe(200)
    const p = answer.parameters ?? {}
    return p.models ? (JSON.parse(p.models) as string[]) : Array.from({ length: rows }, () => p.model)
  }

  it('keeps the digits of integers past 2^53 (20 digits too) as the key, as it does strings', async () => {
    expect(await routed('[12345678901234567890, 9007199254740993, 42, "12345678901234567890"]', 4)).toEqual([
      'big:1',
      'big:1',
      'small:1',
      'big:1',
    ])
  })

  it('reads other numbers as the shortest text of their double, and booleans as true/false', async () => {
    // 12345678901234567891 is another key: its last digit counts. 42.0 is 42; 4.2e1 too.
    expect(await routed('[12345678901234567891, 42.0, 4.2e1, true, -12345678901234567890]', 5)).toEqual([
      'other:1',
      'small:1',
      'small:1',
      'other:1',
      'other:1',
    ])
  })
})
