/**
 * A real pandas DataFrame through a real server, sent and read back the way Wallaroo's SDK does:
 * test/python/wallaroo_pandas_roundtrip.py runs under Debian's python3-pandas (`/usr/bin/python3`:
 * the `python3` on PATH may be another build without pandas) and compares the answer with the frame
 * it computes from the input (pandas.testing.assert_frame_equal: values, dtypes, column order).
 * Several dtypes, a list column and a missing value the pipeline passes through.
 *
 * pyarrow is not in Debian 12, so the SDK's Arrow-file path is checked in TypeScript with flechette
 * (test/clients/wallaroo.test.ts). With LASTMILE_REQUIRE_TOOLS=1 (CI) a missing pandas fails the
 * test; otherwise it is skipped with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { hasPandas, needPandas, runPython } from '../helpers/python.js'
import { testConfig } from '../helpers/server.js'

const SCRIPT = new URL('../python/wallaroo_pandas_roundtrip.py', import.meta.url).pathname

/** a float32 [N], flag bool [N], k int64 [N], v float32 [N,3] → a2 = 2a, k1 = k + 1, nflag = ¬flag, vs = v/2. */
function mixed(): Uint8Array {
  const g = new GraphBuilder('mixed')
  const a = g.input('a', 'float32', ['N'])
  const flag = g.input('flag', 'bool', ['N'])
  const k = g.input('k', 'int64', ['N'])
  const v = g.input('v', 'float32', ['N', 3])
  g.output(g.node('Mul', [a, g.constant('two', 'float32', [1], [2])]), 'float32', ['N'], 'a2')
  g.output(g.node('Add', [k, g.constant('one', 'int64', [1], [1n])]), 'int64', ['N'], 'k1')
  g.output(g.node('Not', [flag]), 'bool', ['N'], 'nflag')
  g.output(g.node('Mul', [v, g.constant('half', 'float32', [1], [0.5])]), 'float32', ['N', 3], 'vs')
  return g.toModel()
}

describe("a pandas DataFrame through lastmile as Wallaroo's SDK sends and reads it", () => {
  let server: RunningServer | undefined
  beforeAll(async () => {
    if (!hasPandas) return
    server = await startServer(testConfig())
    const lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'mixed', mixed())
    await lm.putPipeline('default', 'mixed', [
      { model: 'mixed' },
      { validations: { k_small: 'in.k < 10', a_positive: 'out.a2 > 0' } },
    ])
    // The frame has a missing value (NaN): this pipeline passes it through rather than refusing it.
    await lm.deploy('default', 'mixed', { non_finite_inputs: 'pass' })
  })
  afterAll(() => server?.close())

  it('answers df.to_json(orient="records") with the frame pandas.testing expects', async (ctx) => {
    needPandas(ctx)
    const { code, output } = await runPython(SCRIPT, `${server?.url}/v1/workspaces/default/pipelines/mixed/infer`)
    expect(output).toContain('pandas round trip: ok')
    expect(code).toBe(0)
  })
})
