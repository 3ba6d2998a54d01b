/**
 * The model registry and deployment control: workspaces, model versions (artifacts on disk,
 * metadata in the store), pipeline versions with model references pinned at creation, and
 * deployments that survive restarts. A PUT on a deployed pipeline hot-swaps it to the new version.
 */
import type { Engine } from '../engine/engine.js'
import { SerialQueue } from '../engine/serial-queue.js'
import { trialLoad } from '../engine/trial-load.js'
import {
  ConflictError,
  errorMessage,
  InvalidConfigError,
  InvalidModelError,
  InvalidRequestError,
  NotFoundError,
} from '../errors.js'
import { OIP_DATATYPE, oipShape } from '../formats/oip.js'
import type { Logger } from '../logger.js'
import { checkModel } from '../onnx/model-check.js'
import { PipelineRunner } from '../pipeline/runner.js'
import { compileStages, mapModelRefs, modelRefs, parseSteps } from '../pipeline/steps.js'
import type { DeploymentManager } from '../serving/deployment.js'
import type { SloService } from '../slo/service.js'
import type { ArtifactStore } from '../store/artifacts.js'
import { checkName } from '../store/names.js'
import type { DeploymentRecord, ModelRecord, PipelineRecord, Store, WorkspaceRecord } from '../store/types.js'
import { type DeployRequest, type DeploySettings, deployRequestSchema, deploySettings } from './schemas.js'

export interface RegistryDeps {
  store: Store
  artifacts: ArtifactStore
  engine: Engine
  manager: DeploymentManager
  log: Logger
  /** Checks a version's objectives, and measures the deployed version's. */
  slo: SloService
}

/** The change-feed topic of deployments: published on every deploy and undeploy. */
export const DEPLOYMENTS_TOPIC = 'deployments'

export class Registry {
  /** Deploys, undeploys and reconciles, one at a time. */
  private readonly changes = new SerialQueue()
  /** The stored deployment each served pipeline follows, by `workspace/pipeline`: its `deployedAt`. */
  private readonly applied = new Map<string, string>()

  constructor(private readonly deps: RegistryDeps) {}

  private get store(): Store {
    return this.deps.store
  }

  async requireWorkspace(name: string): Promise<WorkspaceRecord> {
    const w = await this.store.workspaces.get(name)
    if (!w) {
      const names = (await this.store.workspaces.list()).map((w) => w.name)
      throw new NotFoundError(`no workspace '${name}' (workspaces: ${names.join(', ')})`)
    }
    return w
  }

  // Workspaces

  async createWorkspace(name: string) {
    checkName('workspace', name)
    return this.store.workspaces.create(name)
  }

  listWorkspaces() {
    return this.store.workspaces.list()
  }

  async getWorkspace(name: string) {
    const w = await this.requireWorkspace(name)
    const [models, pipelines] = await Promise.all([this.store.models.list(name), this.store.pipelines.latest(name)])
    return {
      ...w,
      models: [...new Set(models.map((m) => m.name))].length,
      pipelines: pipelines.length,
      deployed: this.deps.manager.list(name).map((d) => d.name),
    }
  }

  async deleteWorkspace(name: string): Promise<void> {
    await this.requireWorkspace(name)
    const deployed = this.deps.manager.list(name).map((d) => d.name)
    if (deployed.length > 0) {
      throw new ConflictError(
        `workspace '${name}' has deployed pipelines (${deployed.join(', ')}); undeploy them first`,
      )
    }
    await this.store.workspaces.delete(name)
  }

  // Models

  /** Store a model version: 201-style `created: true` for new bytes, `false` when these bytes exist. */
  async uploadModel(
    workspace: string,
    name: string,
    bytes: Uint8Array,
  ): Promise<{ record: ModelRecord; created: boolean }> {
    await this.requireWorkspace(workspace)
    checkName('model', name)
    checkModel(bytes) // self-contained, and every tensor carries what its shape claims
    // A first load in a child process under a memory cap: a model that would exhaust or crash
    // onnxruntime is refused there, not in the server.
    const { modelLoadMemoryBytes, modelLoadTimeoutMs } = this.deps.engine.config.server
    await trialLoad(bytes, { memoryBytes: modelLoadMemoryBytes, timeoutMs: modelLoadTimeoutMs })
    // Load it once on the CPU: the parser's reason for invalid bytes, and the input/output metadata.
    const session = await this.deps.engine.load(bytes, { backend: 'cpu' })
    const meta = (specs: readonly { name: string; dtype: string; shape: readonly (number | string)[] }[]) =>
      specs.map((s) => ({
        name: s.name,
        datatype: OIP_DATATYPE[s.dtype as keyof typeof OIP_DATATYPE],
        shape: oipShape(s.shape),
      }))
    const inputs = meta(session.inputs)
    const outputs = meta(session.outputs)
    await session.release()
    const sha256 = await this.deps.artifacts.put(bytes)
    return this.store.models.add({ workspace, name, sha256, size: bytes.length, inputs, outputs })
  }

  async listModels(workspace: string) {
    await this.requireWorkspace(workspace)
    const byName = new Map<string, ModelRecord[]>()
    for (const m of await this.store.models.list(workspace)) byName.set(m.name, [...(byName.get(m.name) ?? []), m])
    return [...byName].map(([name, versions]) => ({
      name,
      latest: versions[versions.length - 1],
      versions: versions.length,
    }))
  }

  async getModel(workspace: string, name: string): Promise<{ name: string; versions: ModelRecord[] }> {
    await this.requireWorkspace(workspace)
    const versions = await this.store.models.versions(workspace, name)
    if (versions.length === 0) throw new NotFoundError(`no model '${name}' in workspace '${workspace}'`)
    return { name, versions }
  }

  async getModelVersion(workspace: string, name: string, version: number): Promise<ModelRecord> {
    await this.requireWorkspace(workspace)
    const m = await this.store.models.get(workspace, name, version)
    if (!m) {
      const have = (await this.store.models.versions(workspace, name)).map((x) => x.version)
      throw new NotFoundError(
        `no version ${version} of model '${name}'${have.length ? ` (versions: ${have.join(', ')})` : ''}`,
      )
    }
    return m
  }

  /**
   * A stored model's bytes, checked again as at upload: an artifact stored before a check existed
   * must not reach onnxruntime on a deploy or a restore.
   */
  private async modelBytes(m: ModelRecord): Promise<Uint8Array> {
    const bytes = await this.deps.artifacts.get(m.sha256)
    try {
      checkModel(bytes)
    } catch (e) {
      if (!(e instanceof InvalidModelError)) throw e
      throw new InvalidModelError(`stored model '${m.name}' version ${m.version} is refused: ${e.message}`, {
        cause: e,
        ...(e.details ? { details: e.details } : {}),
      })
    }
    return bytes
  }

  async deleteModel(workspace: string, name: string): Promise<void> {
    const { versions } = await this.getModel(workspace, name)
    const users = this.deps.manager
      .list(workspace)
      .filter((d) => d.runner.models().some((ref) => ref.split(':')[0] === name))
      .map((d) => d.name)
    if (users.length > 0) {
      throw new ConflictError(
        `model '${name}' is used by deployed pipeline(s) ${users.join(', ')}; undeploy them first`,
      )
    }
    await this.store.models.delete(workspace, name)
    for (const v of versions)
      if (!(await this.store.models.artifactInUse(v.sha256))) await this.deps.artifacts.remove(v.sha256)
  }

  // Pipelines

  /**
   * Create a pipeline version. Model references without a version are pinned to the latest one
   * now, so a version always means the same models. A deployed pipeline moves to the new version.
   */
  async putPipeline(
    workspace: string,
    name: string,
    rawSteps: unknown,
    rawSlo?: unknown,
  ): Promise<{ record: PipelineRecord; deployed: boolean }> {
    await this.requireWorkspace(workspace)
    checkName('pipeline', name)
    const steps = parseSteps(rawSteps)
    // Kept with its defaults filled in, so a version always means the same objectives.
    const earlier = rawSlo === undefined ? [] : (await this.store.pipelines.versions(workspace, name)).map((v) => v.slo)
    const slo = rawSlo === undefined ? null : await this.deps.slo.check(rawSlo, earlier)
    const pins = new Map<string, string>()
    for (const ref of modelRefs(steps)) {
      const [model, v] = ref.split(':') as [string, string | undefined]
      const versions = await this.store.models.versions(workspace, model)
      if (versions.length === 0)
        throw new InvalidConfigError(
          `pipeline '${name}': no model '${model}' in workspace '${workspace}'; upload it first`,
        )
      const version = v === undefined ? (versions[versions.length - 1] as ModelRecord).version : Number(v)
      if (!versions.some((x) => x.version === version)) {
        throw new InvalidConfigError(
          `pipeline '${name}': model '${model}' has no version ${version} (versions: ${versions.map((x) => x.version).join(', ')})`,
        )
      }
      pins.set(ref, `${model}:${version}`)
    }
    const pinned = mapModelRefs(steps, (ref) => pins.get(ref) as string)
    // Refuse before storing what could not deploy: build it once on the CPU (pre/post against the
    // models' inputs and outputs, split outputs that agree, validations that parse).
    const runner = await PipelineRunner.build(compileStages(pinned), {
      load: async (ref) => {
        const [model, v] = ref.split(':') as [string, string]
        const m = await this.getModelVersion(workspace, model, Number(v))
        return this.deps.engine.load(await this.modelBytes(m), { backend: 'cpu' })
      },
    })
    await runner.release()
    const record = await this.store.pipelines.add(workspace, name, pinned, slo)
    const current = (await this.store.deployments.list(workspace)).find((d) => d.pipeline === name)
    if (!current) return { record, deployed: false }
    try {
      await this.deploy(workspace, name, { version: record.version }) // with its deployed settings
    } catch (e) {
      throw new ConflictError(
        `pipeline '${name}' version ${record.version} was saved, but the deployed version ${current.version} keeps serving: ${errorMessage(e)}`,
      )
    }
    return { record, deployed: true }
  }

  async listPipelines(workspace: string) {
    await this.requireWorkspace(workspace)
    return (await this.store.pipelines.latest(workspace)).map((p) => ({
      ...p,
      deployment: this.deploymentOf(workspace, p.name),
    }))
  }

  async getPipeline(workspace: string, name: string) {
    await this.requireWorkspace(workspace)
    const versions = await this.store.pipelines.versions(workspace, name)
    if (versions.length === 0) throw new NotFoundError(`no pipeline '${name}' in workspace '${workspace}'`)
    return { name, versions, deployment: this.deploymentOf(workspace, name) }
  }

  async getPipelineVersion(workspace: string, name: string, version: number): Promise<PipelineRecord> {
    const p = await this.store.pipelines.get(workspace, name, version)
    if (!p) throw new NotFoundError(`no version ${version} of pipeline '${name}' in workspace '${workspace}'`)
    return p
  }

  async deletePipeline(workspace: string, name: string): Promise<void> {
    await this.getPipeline(workspace, name)
    if (this.deps.manager.get(workspace, name))
      throw new ConflictError(`pipeline '${name}' is deployed; undeploy it first`)
    await this.store.pipelines.delete(workspace, name)
    await this.deps.slo.forget(workspace, name)
    await this.store.outcomes.forget(workspace, name)
    await this.store.promotion.forget(workspace, name)
  }

  private deploymentOf(workspace: string, name: string) {
    return this.deps.manager.get(workspace, name)?.status() ?? null
  }

  // Deployments

  /**
   * Deploy a pipeline version (the latest by default; an earlier one is a rollback). On a deployed
   * pipeline, the settings the request leaves out keep their deployed values unless it says `reset`.
   * Every process sharing the store serves it within a second ({@link reconcile}).
   */
  async deploy(workspace: string, name: string, raw: unknown = {}) {
    await this.requireWorkspace(workspace)
    const parsed = deployRequestSchema.safeParse(raw ?? {})
    if (!parsed.success) {
      throw new InvalidRequestError(
        `deploy: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
      )
    }
    const req: DeployRequest = parsed.data
    return this.changes.run(async () => {
      const versions = await this.store.pipelines.versions(workspace, name)
      if (versions.length === 0) throw new NotFoundError(`no pipeline '${name}' in workspace '${workspace}'`)
      const version = req.version ?? (versions[versions.length - 1] as PipelineRecord).version
      const deployed = (await this.store.deployments.list(workspace)).find((d) => d.pipeline === name)
      const config = deploySettings(req, deployed?.config)
      const d = await this.apply(workspace, name, version, config)
      const record: DeploymentRecord = {
        workspace,
        pipeline: name,
        version,
        config,
        deployedAt: new Date().toISOString(),
      }
      await this.store.deployments.put(record)
      this.applied.set(`${workspace}/${name}`, record.deployedAt)
      await this.store.changes.publish(DEPLOYMENTS_TOPIC)
      return d.status()
    })
  }

  /** A pipeline version and the bytes of each model it references, checked, by pinned reference. */
  async pipelineModels(
    workspace: string,
    name: string,
    version: number,
  ): Promise<{ pipeline: PipelineRecord; models: Record<string, Uint8Array> }> {
    const pipeline = await this.getPipelineVersion(workspace, name, version)
    const models: Record<string, Uint8Array> = {}
    for (const ref of modelRefs(parseSteps(pipeline.steps))) {
      const [model, v] = ref.split(':') as [string, string]
      const m = await this.getModelVersion(workspace, model, Number(v))
      models[ref] = await this.modelBytes(m)
    }
    return { pipeline, models }
  }

  /** Serve `version` of a pipeline here with `config`, and measure its objectives; the store is not written. */
  private async apply(workspace: string, name: string, version: number, config: DeploySettings) {
    const { pipeline, models } = await this.pipelineModels(workspace, name, version)
    const d = await this.deps.manager.deploy({
      workspace,
      pipeline: name,
      pipelineVersion: version,
      steps: pipeline.steps,
      models,
      ...(config.engine ? { backend: config.engine } : {}),
      ...(config.batching ? { batching: config.batching } : {}),
      ...(config.replicas ? { replicas: config.replicas } : {}),
      ...(config.autoscaling ? { autoscaling: config.autoscaling } : {}),
      ...(config.non_finite_inputs ? { nonFiniteInputs: config.non_finite_inputs } : {}),
      ...(config.session ? { session: config.session } : {}),
    })
    // The version serves now: measuring it must not turn the deploy into a failure.
    await this.deps.slo
      .watch(workspace, name, version, pipeline.slo)
      .catch((e) =>
        this.deps.log.error('objectives not measured', { workspace, pipeline: name, version, error: errorMessage(e) }),
      )
    return d
  }

  async undeploy(workspace: string, name: string): Promise<void> {
    await this.requireWorkspace(workspace)
    await this.changes.run(async () => {
      await this.deps.manager.undeploy(workspace, name)
      await this.store.deployments.remove(workspace, name)
      this.applied.delete(`${workspace}/${name}`)
      await this.deps.slo.unwatch(workspace, name)
      await this.store.changes.publish(DEPLOYMENTS_TOPIC)
    })
  }

  /** Bring back every deployment the store remembers (after a restart); failures are logged, not fatal. */
  async restore(): Promise<{ restored: string[]; failed: string[] }> {
    const restored: string[] = []
    const failed: string[] = []
    await this.changes.run(async () => {
      for (const d of await this.store.deployments.list()) {
        const id = `${d.workspace}/${d.pipeline}`
        if (await this.follow(d)) restored.push(id)
        else failed.push(id)
      }
    })
    return { restored, failed }
  }

  /**
   * Serve what the store says is deployed: deploy here what another process sharing the store
   * deployed, swapped or rolled back since, and stop what it undeployed. Run on every change of the
   * deployments ({@link DEPLOYMENTS_TOPIC}); a record this process already serves is left alone.
   */
  reconcile(): Promise<void> {
    return this.changes.run(async () => {
      const records = await this.store.deployments.list()
      for (const d of records)
        if (this.applied.get(`${d.workspace}/${d.pipeline}`) !== d.deployedAt) await this.follow(d)
      const wanted = new Set(records.map((d) => `${d.workspace}/${d.pipeline}`))
      for (const d of this.deps.manager.list()) {
        const id = `${d.workspace}/${d.name}`
        if (wanted.has(id)) continue
        await this.deps.manager.undeploy(d.workspace, d.name)
        this.applied.delete(id)
        await this.deps.slo.unwatch(d.workspace, d.name)
        this.deps.log.info('pipeline undeployed by another process', { workspace: d.workspace, pipeline: d.name })
      }
    })
  }

  /** Serve a stored deployment here as it is recorded; whether it could be. */
  private async follow(d: DeploymentRecord): Promise<boolean> {
    try {
      await this.apply(d.workspace, d.pipeline, d.version, deploySettings({}, d.config))
      this.applied.set(`${d.workspace}/${d.pipeline}`, d.deployedAt)
      return true
    } catch (e) {
      // Tried again at the next change, not at every one in between: the record stays unapplied.
      this.applied.set(`${d.workspace}/${d.pipeline}`, d.deployedAt)
      this.deps.log.error('could not serve a stored deployment', {
        pipeline: `${d.workspace}/${d.pipeline}`,
        version: d.version,
        error: errorMessage(e),
      })
      return false
    }
  }
}
