/**
 * Real servers on a named backend, for the server suites that run on the software GPU in CI (and
 * their CPU twins): listening on a socket, every answer checked against the OpenAPI document,
 * WebGPU validation on. A pipeline can run on the CPU without failing (a lost device, `auto`'s
 * fallback), so the suites assert where it ran: the deployment status names the backend and its
 * path (GPU for webgpu) with no `backend_note`, and the GPU device `/metrics` reports is the one
 * the server opened (a device lost and replaced mid-test would have answered on the CPU meanwhile).
 */
import { rmSync } from 'node:fs'
import { expect } from 'vitest'
import { type DeploymentStatus, LastmileClient } from '../../src/client/client.js'
import type { ConfigOverrides } from '../../src/config.js'
import { silentLogger } from '../../src/logger.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { checkedFetch, tempDir, testConfig } from './server.js'

export type ServedBackend = 'webgpu' | 'cpu'

export interface ListeningServer {
  server: RunningServer
  /** The typed client over the socket, answers checked against the OpenAPI document. */
  lm: LastmileClient
  /** Checked `fetch` for raw requests. */
  fetch: (url: string, init?: RequestInit) => Promise<Response>
  /** Stop the server and remove its data folder. */
  close(): Promise<void>
}

/** A listening server whose pipelines deploy on `backend` (the server's backend; deploys give no engine). */
export async function startBackendServer(backend: ServedBackend, over: ConfigOverrides = {}): Promise<ListeningServer> {
  const dataDir = tempDir(`lastmile-${backend}-`)
  const config = testConfig({ ...over, backend, dataDir, gpu: { validate: true, ...over.gpu } })
  const server = await startServer(config, { log: silentLogger }).catch((e) => {
    rmSync(dataDir, { recursive: true, force: true })
    throw e
  })
  const fetch = await checkedFetch(server.url)
  return {
    server,
    fetch,
    lm: new LastmileClient({ url: server.url, fetch }),
    async close() {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * A status that runs every model of the pipeline on `backend`, on webgpu's GPU path (the CPU path
 * on cpu): never another backend, never a fallback note.
 */
export function expectOn(backend: ServedBackend, status: DeploymentStatus): void {
  const path = backend === 'webgpu' ? 'gpu' : 'cpu'
  expect({ backend: status.backend, active_backend: status.active_backend, path: status.path }).toEqual({
    backend,
    active_backend: backend,
    path,
  })
  const models = status.stages.flatMap((s) => s.models)
  expect(models.length).toBeGreaterThan(0)
  for (const m of models) {
    const { gpu_path, capture: _capture, ...rest } = m
    // toEqual: a `backend_note` (auto's fallback to cpu) would fail it.
    expect(rest).toEqual({ model: m.model, backend, active_backend: backend, path })
    // On webgpu the status says which GPU path serves the model and why.
    expect(gpu_path?.chosen !== undefined).toBe(backend === 'webgpu')
  }
}

/** The GPU device's `state` and `generation` labels from `/metrics`' lastmile_gpu_info. */
export async function gpuDevice(s: ListeningServer): Promise<{ state: string; generation: string }> {
  const text = await (await s.fetch(`${s.server.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('lastmile_gpu_info{'))
  expect(line, 'lastmile_gpu_info in /metrics: the server has a GPU open').toBeDefined()
  const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line as string)?.[1] ?? ''
  return { state: label('state'), generation: label('generation') }
}
