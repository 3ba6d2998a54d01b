/**
 * The Python SDK (clients/python) against a real server with API keys on: its pytest suite runs
 * under Debian's python3 (pandas, numpy; PyTorch and scikit-learn where installed) with the
 * server's URL, an admin key and fixture files written here (a linear ONNX model whose answers
 * the tests work out themselves, and a Parquet file). Then mypy checks the package's types.
 *
 * With LASTMILE_REQUIRE_TOOLS=1 (CI) a missing pytest, pandas, numpy, torch, scikit-learn, nbclient,
 * ipykernel or mypy fails the test, as does a skipped pytest case; otherwise the test, or the
 * pytest cases that need a missing package, are skipped with the reason.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { createApiKey } from '../../src/registry/keys.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { needPython, python } from '../helpers/python.js'
import { tempDir, testConfig } from '../helpers/server.js'

const SDK = new URL('../../clients/python', import.meta.url).pathname

/** y = x · [2, −1, 0.5]ᵀ + 0.25 for x float32 [N, 3]: y float32 [N, 1]. */
function linear(): Uint8Array {
  const g = new GraphBuilder('linear')
  const x = g.input('x', 'float32', ['N', 3])
  const xw = g.node('MatMul', [x, g.constant('w', 'float32', [3, 1], [2, -1, 0.5])])
  g.output(g.node('Add', [xw, g.constant('b', 'float32', [1], [0.25])]), 'float32', ['N', 1], 'y')
  return g.toModel()
}

/** 1000 rows of columns a, b, c (c has a negative run): the tests recompute each row's y. */
function parquetRows(): Uint8Array {
  const n = 1000
  const a = Float64Array.from({ length: n }, (_, i) => i / 10)
  const b = Float64Array.from({ length: n }, (_, i) => (i % 7) - 3)
  const c = Float64Array.from({ length: n }, (_, i) => (i < 500 ? -i : i) / 100)
  return pw.writeParquet(
    pw.Table.fromIPCStream(tableToIPC(tableFromArrays({ a, b, c }), { format: 'stream' }) as Uint8Array),
  )
}

describe('the Python SDK against a real server', () => {
  const config = testConfig({ server: { auth: 'on' } })
  const fixtures = tempDir('lastmile-pysdk-')
  let server: RunningServer
  let adminKey: string
  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    adminKey = (await createApiKey(store, 'default', 'pytest', 'admin')).key
    await store.close()
    server = await startServer(config)
    writeFileSync(join(fixtures, 'linear.onnx'), linear())
    writeFileSync(join(fixtures, 'rows.parquet'), parquetRows())
  })
  afterAll(async () => {
    await server?.close()
    rmSync(fixtures, { recursive: true, force: true })
    rmSync(config.dataDir, { recursive: true, force: true })
  })

  it('passes its pytest suite', { timeout: 600_000 }, async (ctx) => {
    needPython(ctx, ['pytest', 'pandas', 'numpy'], 'python3-pytest python3-pandas python3-numpy')
    // In CI every optional path runs: PyTorch export, scikit-learn, the notebook in a real kernel.
    const optional = ['torch', 'sklearn', 'nbclient', 'ipykernel']
    if (process.env.LASTMILE_REQUIRE_TOOLS === '1')
      needPython(ctx, optional, 'python3-torch python3-sklearn python3-nbclient python3-ipykernel')
    const env = {
      LASTMILE_URL: server.url,
      LASTMILE_API_KEY: adminKey,
      LASTMILE_FIXTURES: fixtures,
      PYTHONDONTWRITEBYTECODE: '1',
    }
    const { code, output } = await python(['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], { cwd: SDK, env })
    expect(output).toMatch(/\d+ passed/)
    expect(output).not.toMatch(/\d+ (failed|errors?)\b/)
    if (process.env.LASTMILE_REQUIRE_TOOLS === '1') expect(output).not.toMatch(/\d+ skipped/)
    expect(code, output).toBe(0)
  })

  it('type-checks with mypy', { timeout: 300_000 }, async (ctx) => {
    needPython(ctx, ['mypy'], 'mypy')
    const { code, output } = await python(['-m', 'mypy', '--no-incremental', '--cache-dir=/dev/null', 'lastmile'], {
      cwd: SDK,
    })
    expect(output).toMatch(/Success: no issues found/)
    expect(code, output).toBe(0)
  })
})
