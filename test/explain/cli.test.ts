/** `lastmile explain` against a running server: a local report that matches the known answer, and its chart. */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { mulberry32, uniform } from '../../src/random.js'
import { startServer } from '../../src/server/serve.js'
import { linearRegression } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { cliBuilt, clientFor, runCli, tempDir, testConfig } from '../helpers/server.js'

describe.runIf(cliBuilt)(
  `lastmile explain${cliBuilt ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    it('writes a KernelSHAP report equal to wᵢ·(xᵢ − E[xᵢ]) and its SVG chart', async () => {
      const server = await startServer(testConfig(), { log: silentLogger })
      try {
        const lin = linearRegression()
        const lm = clientFor({ request: (url, init) => fetch(`${server.url}${new URL(url).pathname}`, init) })
        await lm.uploadModel('default', 'lin', lin.bytes)
        await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
        await lm.deploy('default', 'lin', { engine: 'cpu' })
        const rand = mulberry32(freshSeed())
        const reference = Array.from({ length: 30 }, () => ({ x: Array.from(uniform(rand, 8, -1, 1)) }))
        const x = Array.from(uniform(rand, 8, -1, 1))
        const dir = tempDir()
        const request = join(dir, 'request.json')
        writeFileSync(request, JSON.stringify({ method: 'kernel_shap', reference: { rows: reference }, rows: [{ x }] }))
        const [out, chart] = [join(dir, 'report.json'), join(dir, 'chart.svg')]
        const r = await runCli([
          'explain',
          '--url',
          server.url,
          '--pipeline',
          'lin',
          '--request',
          request,
          '--output',
          out,
          '--chart',
          chart,
        ])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toMatch(/kernel_shap of lin out\.y\[0\]: \d+ model rows/)
        const report = JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ attributions: number[] }> }
        const mean = Array.from({ length: 8 }, (_, i) => reference.reduce((a, row) => a + (row.x[i] as number), 0) / 30)
        const want = x.map((v, i) => (lin.params.w[i] as number) * (Math.fround(v) - (mean[i] as number)))
        expectClose(report.rows[0]?.attributions as number[], want, 'attributions', 1e-4, 1)
        expect(readFileSync(chart, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*row 0: base/)
      } finally {
        await server.close()
      }
    })
  },
)
