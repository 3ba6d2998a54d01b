/** The registry commands of the `lastmile` CLI against a running server. */
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { startServer } from '../../src/server/serve.js'
import { doubler, runCli, tempDir, testConfig } from '../helpers/server.js'

const bin = new URL('../../bin/lastmile.js', import.meta.url).pathname
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url))

describe.runIf(built)(
  `lastmile registry commands${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    it('uploads, creates, deploys, reports and undeploys through the CLI', async () => {
      const server = await startServer(testConfig(), { log: silentLogger })
      const dir = tempDir()
      const model = join(dir, 'double.onnx')
      writeFileSync(model, doubler(1))
      // spawnSync would block the event loop this server runs on: run the CLI asynchronously.
      const lastmile = async (...args: string[]) => {
        const r = await runCli(args, { LASTMILE_URL: server.url })
        return { code: r.code, out: r.stdout, err: r.stderr }
      }
      const up = await lastmile('models', 'upload', model)
      expect(up.code, up.err).toBe(0)
      expect(JSON.parse(up.out)).toMatchObject({ name: 'double', version: 1, created: true })
      const create = await lastmile('pipelines', 'create', 'double', '--steps', '[{"model": "double"}]')
      expect(JSON.parse(create.out)).toMatchObject({ version: 1, steps: [{ model: 'double:1' }] })
      const deploy = await lastmile('pipelines', 'deploy', 'double', '--replicas', '2')
      expect(JSON.parse(deploy.out)).toMatchObject({ state: 'ready', replicas: 2 })
      expect(JSON.parse((await lastmile('pipelines', 'status', 'double')).out)).toMatchObject({ pipeline_version: 1 })
      expect(JSON.parse((await lastmile('models', 'list')).out)[0]).toMatchObject({ name: 'double', versions: 1 })
      const missing = await lastmile('pipelines', 'status', 'nope')
      expect(missing.code).toBe(1)
      expect(missing.err).toMatch(/not_found \(HTTP 404\)/)
      expect((await lastmile('pipelines', 'undeploy', 'double')).code).toBe(0)
      await server.close()
    })

    it('creates the first admin key offline, straight into the data folder', () => {
      const data = tempDir()
      const r = spawnSync(
        process.execPath,
        [bin, 'keys', 'create', '--offline', '--role', 'admin', '--name', 'root', '--data', data],
        {
          encoding: 'utf8',
        },
      )
      expect(r.status, r.stderr).toBe(0)
      const key = JSON.parse(r.stdout)
      expect(key).toMatchObject({
        workspace: 'default',
        role: 'admin',
        name: 'root',
        key: expect.stringMatching(/^lm_/),
        created_at: expect.any(String), // as `keys create` against a server prints it: never createdAt
      })
      expect(key).not.toHaveProperty('createdAt')
    })
  },
)
