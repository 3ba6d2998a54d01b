/**
 * lastmile's public API: what `import … from 'lastmile'` gives. Everything else under src/ is
 * internal and free to change between versions.
 *
 * - The engine: load an ONNX model on a backend and run it on tensors.
 * - Configuration: the one config object, from environment variables and overrides.
 * - The server: build it without listening (for `app.request()`), or start it on a port.
 * - The typed client for a running server, its error, and the bodies it sends and receives.
 * - The typed errors the engine and the server throw, each with a stable `code`.
 *
 * @example
 * import { Engine, loadConfig, tensor } from 'lastmile'
 * const engine = new Engine(loadConfig())
 * const session = await engine.load(onnxBytes, { backend: 'auto' })
 * const out = await session.run({ x: tensor('float32', [1, 4], [0.5, -1.2, 3.3, 0.7]) })
 * await engine.close()
 *
 * @example
 * import { LastmileClient } from 'lastmile'
 * const lm = new LastmileClient({ url: 'http://127.0.0.1:8080' })
 * const rows = await lm.inferRecords('default', 'demo', [{ x: [0.5, -1.2, 3.3, 0.7] }])
 */

// The typed client, its error, and the bodies of the routes it calls (the wire schemas' types).
export {
  ApiError,
  type ApiKey,
  type ClientOptions,
  type CreatedApiKey,
  type DeploymentStatus,
  type DeployOptions,
  type ExplainReport,
  type InferResponse,
  type JobFormatName,
  type JobStatus,
  LastmileClient,
  type Model,
  type ModelSummary,
  type ModelUpload,
  type ModelVersion,
  type OipAnswer,
  type Pipeline,
  type PipelinePut,
  type PipelineSummary,
  type PipelineVersion,
  type TensorMeta,
  type TensorValues,
  type Workspace,
  type WorkspaceDetail,
} from './client/client.js'
// Configuration: one object, from environment variables and overrides.
export { type BackendChoice, type Config, type ConfigOverrides, loadConfig } from './config.js'
// The engine: load an ONNX model on a backend, run it on tensors.
export { Engine, type EngineStatus, type LoadOptions } from './engine/engine.js'
export {
  type AnyTensor,
  type Dim,
  DTYPES,
  type DType,
  type HostTensor,
  type StringTensor,
  type TensorArray,
  type TensorSpec,
  tensor,
  zeros,
} from './engine/tensor.js'
export type { BackendName, Feeds, ModelSession, Outputs } from './engine/types.js'
// The typed errors: each has a stable `code`; the server maps them to HTTP statuses.
export {
  BackendUnavailableError,
  ConflictError,
  type ErrorCode,
  ForbiddenError,
  InferenceError,
  InvalidConfigError,
  InvalidInputError,
  InvalidModelError,
  InvalidRequestError,
  LastmileError,
  NotAcceptableError,
  NotFoundError,
  NotReadyError,
  OutboundRefusedError,
  PayloadTooLargeError,
  QueueFullError,
  SessionClosedError,
  TimeoutError,
  UnauthorizedError,
  UnsupportedEncodingError,
  UnsupportedMediaTypeError,
  UnsupportedModelError,
} from './errors.js'
// What the server accepts besides its config: a logger, a sink for answered requests, a DNS resolver.
export type { Logger, LogLevel } from './logger.js'
export type { InferenceRecord, InferenceSink } from './logs/record.js'
export type { ResolvedAddress, Resolver } from './outbound/policy.js'
// What a client sends to define and deploy a pipeline.
export type { Step as PipelineStep } from './pipeline/steps.js'
// The server: built without listening (`app.request()`), or started on a port.
export { type BuiltServer, buildServer, type RunningServer, startServer } from './server/serve.js'
// A deployment's settings, as `deploy` takes them and `deployment` reports them.
export type { BatchingConfig, NonFinitePolicy } from './serving/settings.js'
export { VERSION } from './version.js'
