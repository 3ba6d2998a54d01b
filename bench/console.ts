/**
 * bench/console: how long each console page takes to show its data in Chromium when the store is
 * big — a model with 1,000 versions and 10M rows in the inference log — against the issue's
 * budget of 1 s a page. Each page is loaded afresh (a new document, the key already signed in) and
 * timed from navigation to its data on screen, median of 5 loads; the same pages on an empty
 * server are timed in the same run as the baseline.
 */
import { existsSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { LastmileClient } from '../src/client/client.js'
import { loadConfig } from '../src/config.js'
import { tensor } from '../src/engine/tensor.js'
import type { InferenceRecord } from '../src/logs/record.js'
import { GraphBuilder } from '../src/onnx/builder.js'
import { type RunningServer, startServer } from '../src/server/serve.js'
import { SqliteStore } from '../src/store/sqlite-store.js'
import { fmt, machineInfo, printTable, writeResults } from './lib.js'

const CHROMIUM = process.env.LASTMILE_CHROMIUM ?? '/usr/bin/chromium'
const VERSIONS = 1000
const LOG_ROWS = 10_000_000
const ROWS_PER_RECORD = 10_000
const LOADS = 5

function model(): Uint8Array {
  const g = new GraphBuilder('mlp')
  const x = g.input('x', 'float32', ['N', 4])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [2])]), 'float32', ['N', 4], 'y')
  return g.toModel()
}

/** The pages timed: where each goes and what shows its data has arrived. */
const PAGES: { name: string; hash: string; ready: (p: Page, big: boolean) => Promise<unknown> }[] = [
  {
    name: 'pipelines',
    hash: '#/w/default/pipelines',
    ready: (p) => p.getByRole('link', { name: 'p', exact: true }).waitFor(),
  },
  {
    name: 'models (1,000 versions)',
    hash: '#/w/default/models',
    ready: (p, big) =>
      big
        ? p
            .getByRole('article', { name: 'model big' })
            .locator('tbody tr')
            .nth(VERSIONS - 1)
            .waitFor()
        : p.getByRole('article', { name: 'model m' }).waitFor(),
  },
  {
    name: 'pipeline overview',
    hash: '#/w/default/pipelines/p',
    ready: (p) => p.getByText('Steps of version').waitFor(),
  },
  { name: 'live', hash: '#/w/default/pipelines/p/live', ready: (p) => p.getByLabel('live figures').waitFor() },
  {
    name: 'inference log (read the last hour)',
    hash: '#/w/default/pipelines/p/logs',
    ready: async (p) => {
      await p.getByRole('button', { name: 'Read' }).click()
      await p.getByText(/rows read/).waitFor()
    },
  },
  {
    name: 'assays',
    hash: '#/w/default/assays',
    ready: (p) =>
      p
        .getByText(/No assays yet|windows scored/)
        .first()
        .waitFor(),
  },
  { name: 'batch jobs', hash: '#/w/default/jobs', ready: (p) => p.getByText('No jobs yet').waitFor() },
  {
    name: 'keys and activity',
    hash: '#/w/default/keys',
    ready: (p) => p.getByRole('table', { name: 'audit trail' }).waitFor(),
  },
]

/** A server with pipeline `p` deployed; with `big`, 1,000 versions of model `big` and 10M logged rows. */
async function server(big: boolean): Promise<{ server: RunningServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-bench-console-'))
  if (big) {
    const store = SqliteStore.open(dir)
    const meta = [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }]
    for (let v = 0; v < VERSIONS; v++)
      await store.models.add({
        workspace: 'default',
        name: 'big',
        sha256: v.toString(16).padStart(64, '0'),
        size: 1000 + v,
        inputs: meta,
        outputs: meta,
      })
    await store.close()
  }
  const config = loadConfig({}, { dataDir: dir, backend: 'cpu', logLevel: 'error', server: { port: 0, demo: false } })
  const s = await startServer(config)
  const lm = new LastmileClient({ url: s.url })
  await lm.uploadModel('default', 'm', model())
  await lm.putPipeline('default', 'p', [{ model: 'm' }])
  await lm.deploy('default', 'p')
  if (big) {
    // Rows spread over the last day, the newest hour included, as traffic would have left them.
    const day = 86_400_000
    const now = Date.now()
    const records = LOG_ROWS / ROWS_PER_RECORD
    for (let r = 0; r < records; r++) {
      const rows = ROWS_PER_RECORD
      const x = new Float32Array(rows * 4).map((_, i) => (i % 97) / 10)
      const record: InferenceRecord = {
        time: now - day + Math.floor((r * day) / records),
        workspace: 'default',
        pipeline: 'p',
        pipelineVersion: 1,
        model: 'm:1',
        rows,
        inputs: { x: tensor('float32', [rows, 4], x) },
        outputs: {
          y: tensor(
            'float32',
            [rows, 4],
            x.map((v) => 2 * v),
          ),
        },
        rowModels: new Array(rows).fill('m:1'),
        checkFailures: new Int32Array(rows),
        shadow: {},
        latencyMs: 1,
      }
      s.deps.inferenceLog.append(record)
      if (r % 20 === 19) await s.deps.inferenceLog.flush()
    }
    await s.deps.inferenceLog.flush()
  }
  return { server: s, dir }
}

async function timePages(url: string, big: boolean): Promise<Map<string, number>> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    const out = new Map<string, number>()
    for (const p of PAGES) {
      const runs: number[] = []
      for (let i = 0; i < LOADS; i++) {
        await page.goto('about:blank')
        const t0 = performance.now()
        await page.goto(`${url}/${p.hash}`)
        await p.ready(page, big)
        runs.push(performance.now() - t0)
      }
      out.set(p.name, runs.sort((a, b) => a - b)[Math.floor(LOADS / 2)] as number)
    }
    return out
  } finally {
    await browser.close()
  }
}

export async function benchConsole(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    process.stdout.write(
      `console: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or LASTMILE_CHROMIUM)\n`,
    )
    return
  }
  const results: Record<string, { empty: number; big: number }> = {}
  for (const big of [false, true]) {
    const t0 = performance.now()
    const { server: s, dir } = await server(big)
    if (big)
      process.stdout.write(
        `console: seeded ${VERSIONS} model versions and ${fmt.rate(LOG_ROWS)} log rows in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      )
    try {
      for (const [name, ms] of await timePages(s.url, big)) {
        results[name] ??= { empty: 0, big: 0 }
        ;(results[name] as { empty: number; big: number })[big ? 'big' : 'empty'] = ms
      }
    } finally {
      await s.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  printTable(
    `console: ms from navigation to a page's data on screen, median of ${LOADS} loads (Chromium, headless); big = ${VERSIONS} versions of a model, ${fmt.rate(LOG_ROWS)} logged rows`,
    [
      ['page', 'empty store', 'big store', 'big ÷ empty', 'under 1 s'],
      ...Object.entries(results).map(([name, r]) => [
        name,
        r.empty.toFixed(0),
        r.big.toFixed(0),
        `${(r.big / r.empty).toFixed(2)}×`,
        r.big < 1000 ? 'yes' : 'no',
      ]),
    ],
  )
  const path = await writeResults('console', {
    suite: 'console',
    machine: await machineInfo(),
    versions: VERSIONS,
    logRows: LOG_ROWS,
    loads: LOADS,
    pages: results,
  })
  process.stdout.write(`results: ${path}\n`)
}
