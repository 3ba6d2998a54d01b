/**
 * The package as a user gets it: `import … from 'lastmile'` and 'lastmile/client' resolve through
 * package.json's exports map to the build, the public API is what src/index.ts documents and no
 * more, its declarations type a TypeScript user's code, and the published files hold no tests,
 * fixtures, benchmarks or sources. The user is a folder outside the repository whose
 * node_modules/lastmile points here, as an install would.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../src/onnx/builder.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const built = existsSync(join(root, 'dist/src/index.js')) && existsSync(join(root, 'dist/src/index.d.ts'))

/** What `import * as lastmile from 'lastmile'` holds at run time (types aside), sorted. */
const MAIN_VALUES = [
  'ApiError',
  'BackendUnavailableError',
  'ConflictError',
  'DTYPES',
  'Engine',
  'ForbiddenError',
  'InferenceError',
  'InvalidConfigError',
  'InvalidInputError',
  'InvalidModelError',
  'InvalidRequestError',
  'LastmileClient',
  'LastmileError',
  'NotAcceptableError',
  'NotFoundError',
  'NotReadyError',
  'OutboundRefusedError',
  'PayloadTooLargeError',
  'QueueFullError',
  'SessionClosedError',
  'TimeoutError',
  'UnauthorizedError',
  'UnsupportedEncodingError',
  'UnsupportedMediaTypeError',
  'UnsupportedModelError',
  'VERSION',
  'buildServer',
  'loadConfig',
  'startServer',
  'tensor',
  'zeros',
]

/** A user's program: the engine on a model, then a server driven by the client, all from the package. */
const PROGRAM = `
import { readFileSync } from 'node:fs'
import * as lastmile from 'lastmile'
import * as light from 'lastmile/client'
const { ApiError, Engine, InvalidModelError, LastmileClient, loadConfig, startServer, tensor } = lastmile
const out = { main: Object.keys(lastmile).sort(), client: Object.keys(light).sort() }
out.oneClient = light.LastmileClient === LastmileClient
const config = loadConfig({}, {
  backend: 'cpu', dataDir: process.env.DATA, logLevel: 'error', server: { port: 0, demo: false },
})
const engine = new Engine(config)
const session = await engine.load(readFileSync(process.env.MODEL))
const answer = await session.run({ x: tensor('float32', [2, 3], [1, -2, 0.5, 4, 1, -1]) })
out.y = { dims: answer.y.dims, data: [...answer.y.data] }
out.bad = await engine.load(new Uint8Array([1, 2, 3])).catch((e) => ({ typed: e instanceof InvalidModelError, code: e.code }))
await engine.close()
const server = await startServer(config)
const lm = new LastmileClient({ url: server.url })
out.workspaces = (await lm.listWorkspaces()).map((w) => w.name)
out.missing = await lm.getModel('default', 'absent').catch((e) => ({ typed: e instanceof ApiError, status: e.status, code: e.code }))
await server.close()
console.log(JSON.stringify(out))
`

/** A user's TypeScript: compiles against the declarations, and a wrong dtype does not. */
const CONSUMER = `
import { type Config, Engine, type HostTensor, LastmileClient, loadConfig, type ModelVersion, tensor } from 'lastmile'
import { ApiError, LastmileClient as Light } from 'lastmile/client'
const config: Config = loadConfig({}, { backend: 'cpu' })
export const engine = new Engine(config)
export const x: HostTensor<'float32'> = tensor('float32', [1, 2], [1, 2])
// @ts-expect-error: dtypes are checked, so the declarations are not \`any\`
tensor('float33', [1], [1])
export const client: Light = new LastmileClient({ url: 'http://127.0.0.1:8080' })
export const version: Promise<ModelVersion> = client.getModelVersion('default', 'm', 1)
export const status = (e: ApiError): number => e.status
`

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 })
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0)
  return r.stdout
}

describe.runIf(built)(
  `the lastmile package${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    let user: string

    beforeAll(() => {
      user = mkdtempSync(join(tmpdir(), 'lastmile-user-'))
      mkdirSync(join(user, 'node_modules', '@types'), { recursive: true })
      mkdirSync(join(user, 'node_modules', '@webgpu'))
      symlinkSync(root, join(user, 'node_modules', 'lastmile'), 'dir')
      symlinkSync(join(root, 'node_modules/@types/node'), join(user, 'node_modules/@types/node'), 'dir')
      symlinkSync(join(root, 'node_modules/@webgpu/types'), join(user, 'node_modules/@webgpu/types'), 'dir')
    })
    afterAll(() => rmSync(user, { recursive: true, force: true }))

    it('runs the engine and a server driven by the client, by the package name, with exactly the documented API', () => {
      // y = x · W, W asymmetric so a transposed or reordered weight shows.
      const g = new GraphBuilder('matmul')
      const w = g.constant('w', 'float32', [3, 2], [1, 0, 0, 2, 3, -1])
      g.output(g.node('MatMul', [g.input('x', 'float32', ['N', 3]), w]), 'float32', ['N', 2], 'y')
      writeFileSync(join(user, 'model.onnx'), g.toModel())
      writeFileSync(join(user, 'program.mjs'), PROGRAM)
      const out = JSON.parse(
        run(process.execPath, ['program.mjs'], user, { DATA: join(user, 'data'), MODEL: join(user, 'model.onnx') }),
      )
      expect(out.main).toEqual(MAIN_VALUES)
      expect(out.client).toEqual(['ApiError', 'LastmileClient'])
      expect(out.oneClient).toBe(true)
      expect(out.y).toEqual({ dims: [2, 2], data: [2.5, -4.5, 1, 3] })
      expect(out.bad).toEqual({ typed: true, code: 'invalid_model' })
      expect(out.workspaces).toEqual(['default'])
      expect(out.missing).toEqual({ typed: true, status: 404, code: 'not_found' })
    })

    it("types a user's TypeScript through the declarations the exports map names", () => {
      writeFileSync(join(user, 'consumer.ts'), CONSUMER)
      writeFileSync(
        join(user, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node', '@webgpu/types'],
          },
          files: ['consumer.ts'],
        }),
      )
      run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], user)
    })

    it('publishes the build, the command, the console, the shaders and the README: no tests, fixtures, benchmarks or sources', () => {
      const [pack] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--offline'], root))
      const files: string[] = pack.files.map((f: { path: string }) => f.path)
      for (const needed of [
        'package.json',
        'README.md',
        'bin/lastmile.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/client/client.js',
        'dist/src/client/client.d.ts',
        'dist/src/cli/main.js',
        'shaders/softmax.wgsl',
        'dist/console/index.html',
      ]) {
        expect(files).toContain(needed)
      }
      const stray = files.filter(
        (f) =>
          !/^(package\.json|README\.md|bin\/[^/]+\.js|shaders\/.+\.wgsl|dist\/src\/.+\.(js|mjs|d\.ts)|dist\/console\/(index\.html|assets\/[\w-]+\.(js|css)))$/.test(
            f,
          ) || /(^|\/)(test|bench|fixtures)(\/|$)|\.test\./.test(f),
      )
      expect(stray).toEqual([])
    })
  },
)
