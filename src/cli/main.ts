/**
 * The `lastmile` command line: parses flags into config overrides (flags win over env vars),
 * dispatches to a command and maps typed errors to an exit code and a one-line message.
 */
import { parseArgs } from 'node:util'
import { ApiError } from '../client/client.js'
import { type Config, type ConfigOverrides, deprecatedVariables, loadConfig } from '../config.js'
import { errorMessage, LastmileError } from '../errors.js'
import { createLogger } from '../logger.js'
import { VERSION } from '../version.js'
import { runAdmin } from './admin.js'
import { runDemo } from './demo.js'
import { runExplain } from './explain.js'
import { runInfo } from './info.js'
import { runScore } from './score.js'
import { runServe } from './serve.js'

const HELP = `lastmile — an inference server for the last mile of ML

Usage: lastmile <command> [flags]

Commands:
  serve     Start the HTTP server (deploys the demo pipeline on first start unless --no-demo)
  demo      Load the demo model (an MLP classifier) and answer a few example rows, no server
  info      Show the backends and the GPU adapter this machine offers (JSON)
  score     Score a file through a deployed pipeline as a batch job, with progress:
            score --pipeline p --input in.parquet --output out.csv [--features a,b] [--in-process]
  explain   Explain a deployed pipeline (server): explain --pipeline p --request req.json [--output r.json] [--chart c.svg]
  help      Show this help

Registry commands (against a running server: --url, --key; workspace from --workspace):
  models upload <file.onnx> [--name n]        models list | get <name> | delete <name>
  pipelines create <name> --steps <file|json> pipelines list | get <name> | delete <name>
  pipelines deploy <name> [--pipeline-version v] [--engine e] [--replicas n]
                   [--non-finite-inputs refuse|pass] [--reset]
      (a deployed pipeline keeps the engine, replicas, batching and non-finite-inputs a deploy
       leaves out; --reset gives those their defaults)
  pipelines undeploy <name>                   pipelines status <name>
  pipelines optimize <name> [--target-p99-ms n] [--budget-s n] [--apply]
      (measures backends, batching, threads and graph optimization on the server, prints the
       table and the recommendation; --apply redeploys with it)
  workspaces list | create <name> | get <name> | delete <name>
  keys create --role <admin|deployer|viewer> [--name n] [--offline --data dir | --offline --store url]
  keys list | revoke <id>

Flags (each also settable by environment variable, see README):
  --data <dir>            data folder                        LASTMILE_DATA_DIR   (.lastmile-data)
  --store <url>           shared store, postgres://...       LASTMILE_STORE_URL  (SQLite in --data)
  --backend <b>           auto | webgpu | cpu | wasm         LASTMILE_BACKEND    (auto)
  --gpu-backend <b>       auto | vulkan | opengles           LASTMILE_GPU_BACKEND (auto)
  --gpu-adapter <name>    adapter name contains this         LASTMILE_GPU_ADAPTER
  --cpu-threads <n>       threads per cpu session, 0 = all   LASTMILE_CPU_THREADS (0)
  --log-level <l>         debug | info | warn | error        LASTMILE_LOG_LEVEL  (info)
  --host <addr>           (serve) address to listen on       LASTMILE_HOST       (127.0.0.1)
  --port <n>              (serve) TCP port, 0 = any free      LASTMILE_PORT       (8080)
  --no-demo               (serve) do not deploy the demo     LASTMILE_DEMO       (true)
  --workers <n|auto>      (serve) processes on one port      LASTMILE_WORKERS    (1)
  --rows <n>              (demo) rows to score               (4)
  --url <url>             (registry) server URL              LASTMILE_URL        (http://127.0.0.1:8080)
  --key <key>             (registry) API key                 LASTMILE_API_KEY
  --workspace <ws>        (registry) workspace               (default)
  --pipeline, --input, --output   (score) what to score and where the result goes
  --format, --output-format       (score) csv | jsonl | arrow | parquet (default: from the extension)
  --features <a,b,...>    (score) columns forming the model's one [N, F] input, in order
  --max-error-share <s>   (score) share of failing rows that fails the job   LASTMILE_JOB_MAX_ERROR_SHARE (0.01)
  --in-process            (score) run on --data here, without a server
`

const OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  backend: { type: 'string' },
  'gpu-backend': { type: 'string' },
  'gpu-adapter': { type: 'string' },
  'cpu-threads': { type: 'string' },
  'log-level': { type: 'string' },
  rows: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'no-demo': { type: 'boolean' },
  workers: { type: 'string' },
  url: { type: 'string' },
  key: { type: 'string' },
  workspace: { type: 'string' },
  name: { type: 'string' },
  steps: { type: 'string' },
  'pipeline-version': { type: 'string' },
  engine: { type: 'string' },
  replicas: { type: 'string' },
  'non-finite-inputs': { type: 'string' },
  reset: { type: 'boolean' },
  'target-p99-ms': { type: 'string' },
  'budget-s': { type: 'string' },
  apply: { type: 'boolean' },
  role: { type: 'string' },
  offline: { type: 'boolean' },
  pipeline: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  format: { type: 'string' },
  'output-format': { type: 'string' },
  features: { type: 'string' },
  'max-error-share': { type: 'string' },
  'in-process': { type: 'boolean' },
  request: { type: 'string' },
  chart: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

function overridesFrom(v: Values): ConfigOverrides {
  return {
    dataDir: v.data,
    storeUrl: v.store,
    backend: v.backend as Config['backend'] | undefined,
    cpuThreads: v['cpu-threads'] === undefined ? undefined : Number(v['cpu-threads']),
    logLevel: v['log-level'] as Config['logLevel'] | undefined,
    gpu: {
      backend: v['gpu-backend'] as Config['gpu']['backend'] | undefined,
      adapter: v['gpu-adapter'],
    },
    client: { url: v.url, apiKey: v.key },
    server: {
      host: v.host,
      port: v.port === undefined ? undefined : Number(v.port),
      demo: v['no-demo'] ? false : undefined,
      workers: v.workers === undefined ? undefined : v.workers === 'auto' ? 'auto' : Number(v.workers),
    },
  }
}

/**
 * Whether `argv` runs a command that loads models in this process and so may open the GPU:
 * bin/lastmile.js then filters Dawn's limit notices out of stderr (src/gpu/dawn-notices.ts).
 */
export function opensEngine(argv: string[]): boolean {
  try {
    const command = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true }).positionals[0]
    return command === 'demo' || command === 'info' || command === 'serve' || command === 'score'
  } catch {
    return false // main() reports the mistake
  }
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true })
    const command = positionals[0] ?? 'help'
    if (values.help || command === 'help') {
      process.stdout.write(HELP)
      return 0
    }
    if (values.version) {
      process.stdout.write(`lastmile ${VERSION}\n`)
      return 0
    }
    const config = loadConfig(env, overridesFrom(values))
    // Old variable names still work for one release; every command says what to rename.
    const log = createLogger(config.logLevel)
    for (const warning of deprecatedVariables(env)) log.warn(warning)
    switch (command) {
      case 'demo':
        return await runDemo(config, { rows: values.rows === undefined ? 4 : Number(values.rows) })
      case 'info':
        return await runInfo(config)
      case 'serve':
        return await runServe(config)
      case 'score':
        return await runScore(config, {
          workspace: values.workspace ?? 'default',
          ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}),
          ...(values.input !== undefined ? { input: values.input } : {}),
          ...(values.output !== undefined ? { output: values.output } : {}),
          ...(values.format !== undefined ? { format: values.format } : {}),
          ...(values['output-format'] !== undefined ? { outputFormat: values['output-format'] } : {}),
          ...(values.features !== undefined ? { features: values.features } : {}),
          ...(values['max-error-share'] !== undefined ? { maxErrorShare: values['max-error-share'] } : {}),
          ...(values['in-process'] ? { inProcess: true } : {}),
        })
      case 'explain':
        return await runExplain(config, {
          workspace: values.workspace ?? 'default',
          ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}),
          ...(values.request !== undefined ? { request: values.request } : {}),
          ...(values.output !== undefined ? { output: values.output } : {}),
          ...(values.chart !== undefined ? { chart: values.chart } : {}),
        })
      case 'models':
      case 'pipelines':
      case 'workspaces':
      case 'keys':
        return await runAdmin(config, command, {
          positionals: positionals.slice(1),
          workspace: values.workspace ?? 'default',
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.steps !== undefined ? { steps: values.steps } : {}),
          ...(values['pipeline-version'] !== undefined ? { version: values['pipeline-version'] } : {}),
          ...(values.engine !== undefined ? { engine: values.engine } : {}),
          ...(values.replicas !== undefined ? { replicas: values.replicas } : {}),
          ...(values['non-finite-inputs'] !== undefined ? { nonFiniteInputs: values['non-finite-inputs'] } : {}),
          ...(values.reset ? { reset: true } : {}),
          ...(values.role !== undefined ? { role: values.role } : {}),
          ...(values.offline ? { offline: true } : {}),
          ...(values['target-p99-ms'] !== undefined ? { targetP99Ms: values['target-p99-ms'] } : {}),
          ...(values['budget-s'] !== undefined ? { budgetS: values['budget-s'] } : {}),
          ...(values.apply ? { apply: true } : {}),
        })
      default:
        process.stderr.write(`lastmile: unknown command '${command}'\n\n${HELP}`)
        return 2
    }
  } catch (e) {
    if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lastmile: ${errorMessage(e)} (see \`lastmile help\`)\n`)
      return 2
    }
    if (e instanceof ApiError) {
      process.stderr.write(`lastmile: ${e.code} (HTTP ${e.status}): ${e.message}\n`)
      return 1
    }
    const code = e instanceof LastmileError ? e.code : 'error'
    process.stderr.write(`lastmile: ${code}: ${errorMessage(e)}\n`)
    return e instanceof LastmileError && e.code === 'invalid_config' ? 2 : 1
  }
}
