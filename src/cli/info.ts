/** `lastmile info`: what this machine offers: the backend `auto` picks and the GPU adapter, as JSON. */
import type { Config } from '../config.js'
import { Engine } from '../engine/engine.js'
import { createLogger } from '../logger.js'

export async function runInfo(config: Config): Promise<number> {
  const engine = new Engine(config, createLogger('warn'))
  try {
    const status = await engine.status()
    process.stdout.write(`${JSON.stringify({ node: process.version, ...status }, null, 2)}\n`)
    return 0
  } finally {
    await engine.close()
  }
}
