/**
 * `lastmile models|pipelines|workspaces|keys ...`: the registry from the command line, through the
 * typed client against a running server (LASTMILE_URL, LASTMILE_API_KEY). `keys create --offline`
 * writes straight into the store (the data folder's, or the shared one of `--store`), to make the
 * first admin key before the server starts.
 * Results print as JSON.
 */
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { LastmileClient } from '../client/client.js'
import type { Config } from '../config.js'
import { InvalidConfigError } from '../errors.js'
import { createApiKey } from '../registry/keys.js'
import { openStore, storeLocation } from '../store/open.js'
import type { Role } from '../store/types.js'
import { apiKeyJson } from '../wire/registry.js'
import { optimizeCommand } from './optimize.js'

export interface AdminArgs {
  positionals: string[]
  workspace: string
  name?: string
  steps?: string
  version?: string
  engine?: string
  replicas?: string
  /** `refuse` or `pass` (the server checks it). */
  nonFiniteInputs?: string
  /** Give the settings a deploy leaves out their defaults instead of the deployed ones. */
  reset?: boolean
  role?: string
  offline?: boolean
  /** `pipelines optimize`: the p99 target in ms, the budget in seconds, and whether to apply. */
  targetP99Ms?: string
  budgetS?: string
  apply?: boolean
}

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`)

function need(value: string | undefined, what: string): string {
  if (!value) throw new InvalidConfigError(`missing ${what}`)
  return value
}

async function stepsFrom(arg: string | undefined): Promise<unknown[]> {
  const text = need(arg, '--steps (a JSON file, or inline JSON)').trim()
  const json = JSON.parse(text.startsWith('[') || text.startsWith('{') ? text : await readFile(text, 'utf8'))
  return Array.isArray(json) ? json : (json as { steps: unknown[] }).steps
}

/** Run an admin command; resolves to the exit code. */
export async function runAdmin(config: Config, area: string, args: AdminArgs): Promise<number> {
  const [action = 'list', target] = args.positionals
  const ws = args.workspace
  if (area === 'keys' && action === 'create' && args.offline) {
    const store = await openStore(config)
    try {
      if (!(await store.workspaces.get(ws)))
        throw new InvalidConfigError(`no workspace '${ws}' in ${storeLocation(config)}`)
      const role = need(args.role, '--role (admin, deployer or viewer)') as Role
      const k = await createApiKey(store, ws, args.name ?? 'cli', role)
      print({ ...apiKeyJson(k), key: k.key }) // as `keys create` against a server prints it
    } finally {
      await store.close()
    }
    return 0
  }
  const lm = new LastmileClient({
    url: config.client.url,
    ...(config.client.apiKey ? { apiKey: config.client.apiKey } : {}),
  })
  const key = `${area} ${action}`
  switch (key) {
    case 'models upload': {
      const file = need(target, 'the model file: lastmile models upload <file.onnx>')
      const name = args.name ?? basename(file).replace(/\.onnx$/i, '')
      print(await lm.uploadModel(ws, name, new Uint8Array(await readFile(file))))
      return 0
    }
    case 'models list':
      print(await lm.listModels(ws))
      return 0
    case 'models get':
      print(await lm.getModel(ws, need(target, 'a model name')))
      return 0
    case 'models delete':
      print(await lm.deleteModel(ws, need(target, 'a model name')))
      return 0
    case 'pipelines create':
      print(await lm.putPipeline(ws, need(target, 'a pipeline name'), await stepsFrom(args.steps)))
      return 0
    case 'pipelines list':
      print(await lm.listPipelines(ws))
      return 0
    case 'pipelines get':
      print(await lm.getPipeline(ws, need(target, 'a pipeline name')))
      return 0
    case 'pipelines delete':
      print(await lm.deletePipeline(ws, need(target, 'a pipeline name')))
      return 0
    case 'pipelines deploy':
      print(
        await lm.deploy(ws, need(target, 'a pipeline name'), {
          ...(args.version ? { version: Number(args.version) } : {}),
          ...(args.engine ? { engine: args.engine as 'auto' } : {}),
          ...(args.replicas ? { replicas: Number(args.replicas) } : {}),
          ...(args.nonFiniteInputs ? { non_finite_inputs: args.nonFiniteInputs as 'refuse' } : {}),
          ...(args.reset ? { reset: true } : {}),
        }),
      )
      return 0
    case 'pipelines optimize':
      return optimizeCommand(lm, ws, need(target, 'a pipeline name'), {
        ...(args.targetP99Ms !== undefined ? { targetP99Ms: Number(args.targetP99Ms) } : {}),
        ...(args.budgetS !== undefined ? { budgetS: Number(args.budgetS) } : {}),
        apply: args.apply === true,
      })
    case 'pipelines undeploy':
      print(await lm.undeploy(ws, need(target, 'a pipeline name')))
      return 0
    case 'pipelines status':
      print(await lm.deployment(ws, need(target, 'a pipeline name')))
      return 0
    case 'workspaces list':
      print(await lm.listWorkspaces())
      return 0
    case 'workspaces create':
      print(await lm.createWorkspace(need(target, 'a workspace name')))
      return 0
    case 'workspaces get':
      print(await lm.getWorkspace(need(target, 'a workspace name')))
      return 0
    case 'workspaces delete':
      print(await lm.deleteWorkspace(need(target, 'a workspace name')))
      return 0
    case 'keys create':
      print(await lm.createKey(ws, args.name ?? 'cli', need(args.role, '--role (admin, deployer or viewer)') as Role))
      return 0
    case 'keys list':
      print(await lm.listKeys(ws))
      return 0
    case 'keys revoke':
      print(await lm.revokeKey(ws, need(target, 'a key id')))
      return 0
    default:
      throw new InvalidConfigError(`unknown command 'lastmile ${key}' (see lastmile help)`)
  }
}
