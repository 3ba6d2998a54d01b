/** Writing files so that what was acknowledged survives a crash: data fsynced before it counts. */
import { open, rename } from 'node:fs/promises'

/** Write `bytes` to `path` and fsync them. */
export async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const f = await open(path, 'w')
  try {
    await f.writeFile(bytes)
    await f.sync()
  } finally {
    await f.close()
  }
}

/** Replace `path` atomically: write and fsync `<path>.tmp`, then rename it over `path`. */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await writeSynced(`${path}.tmp`, bytes)
  await rename(`${path}.tmp`, path)
}
