/**
 * Writing files so that what was acknowledged survives a crash (data fsynced before it counts),
 * and so that only the server's own user can read them: every folder lastmile creates in its data
 * folder is 0700 and every file 0600, set explicitly rather than left to the umask.
 */
import { chmod, mkdir, open, rename } from 'node:fs/promises'

/** Mode of every folder lastmile creates: its user only. */
export const DIR_MODE = 0o700
/** Mode of every file lastmile creates: its user only. */
export const FILE_MODE = 0o600

/** Create `path` (and missing parents) as private folders; an existing `path` is made private too. */
export async function mkdirPrivate(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIR_MODE })
  await chmod(path, DIR_MODE) // mkdir's mode passes through the umask, and an existing folder keeps its own
}

/** Write `bytes` to a new private file at `path` and fsync them. */
export async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const f = await open(path, 'w', FILE_MODE)
  try {
    await f.chmod(FILE_MODE) // the open's mode passes through the umask
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

/** fsync a folder, so that a rename into it survives power loss. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
