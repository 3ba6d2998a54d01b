/**
 * `lastmile explain --pipeline p --request req.json [--output report.json] [--chart chart.svg]`:
 * ask a server for an explanation report (the request file is the POST body of
 * /v1/workspaces/{ws}/pipelines/{name}/explain) and its chart.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { LastmileClient } from '../client/client.js'
import type { Config } from '../config.js'
import { InvalidConfigError } from '../errors.js'

export interface ExplainArgs {
  pipeline?: string
  request?: string
  output?: string
  chart?: string
  workspace: string
}

export async function runExplain(config: Config, a: ExplainArgs): Promise<number> {
  if (!a.pipeline || !a.request) throw new InvalidConfigError('explain needs --pipeline <name> --request <file.json>')
  let request: unknown
  try {
    request = JSON.parse(await readFile(a.request, 'utf8'))
  } catch (e) {
    throw new InvalidConfigError(`--request ${a.request}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const lm = new LastmileClient({
    url: config.client.url,
    ...(config.client.apiKey ? { apiKey: config.client.apiKey } : {}),
  })
  const report = await lm.explain(a.workspace, a.pipeline, request)
  const text = `${JSON.stringify(report, null, 2)}\n`
  if (a.output) await writeFile(a.output, text)
  else process.stdout.write(text)
  if (a.chart) await writeFile(a.chart, await (await lm.explainAs(a.workspace, a.pipeline, request, 'svg')).text())
  process.stderr.write(
    `${report.method} of ${a.pipeline} ${report.output}: ${report.evaluated_rows} model rows in ${Number(report.seconds).toFixed(2)} s${a.chart ? `; chart: ${a.chart}` : ''}\n`,
  )
  return 0
}
