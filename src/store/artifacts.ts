/**
 * Model artifacts, content-addressed by sha256 under `<dataDir>/artifacts/`. A write goes to a
 * temporary file, is fsynced, renamed into place and the folder fsynced: after a crash an
 * artifact is either whole or absent, never half-written. Files are 0600, folders 0700; temporary
 * leftovers and artifacts no model version uses are removed at the server's start (`tidyDataDir`).
 */
import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { mkdirPrivate, writeSynced } from '../durable.js'
import { NotFoundError } from '../errors.js'
import { within } from './names.js'

const HEX64 = /^[0-9a-f]{64}$/

/** The folder, under `artifacts/`, where writes wait for their rename. */
export const ARTIFACT_TMP = 'tmp'

/** The sha256 of `bytes`, lower-case hex: an artifact's name. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The artifact folder: model bytes by sha256, written durably, checked on read. */
export class ArtifactStore {
  private constructor(readonly dir: string) {}

  /** Open (creating) the artifact folder. */
  static async open(dataDir: string): Promise<ArtifactStore> {
    const dir = join(dataDir, 'artifacts')
    await mkdirPrivate(dir)
    await mkdirPrivate(join(dir, ARTIFACT_TMP))
    return new ArtifactStore(dir)
  }

  /** The sha256 of an artifact file's name (`<sha256>.onnx`), or undefined for any other name. */
  static shaOf(fileName: string): string | undefined {
    const sha = fileName.endsWith('.onnx') ? fileName.slice(0, -'.onnx'.length) : ''
    return HEX64.test(sha) ? sha : undefined
  }

  /** An artifact's file: its id must be a sha256, and the path stay inside the folder. */
  path(sha256: string): string {
    if (!HEX64.test(sha256)) throw new NotFoundError(`not an artifact id: ${sha256}`)
    return within(this.dir, sha256.slice(0, 2), `${sha256}.onnx`)
  }

  /** Store `bytes` durably; returns their sha256. Writing the same bytes again is a no-op rename. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(bytes)
    const tmp = join(this.dir, ARTIFACT_TMP, `${sha256}.${randomBytes(6).toString('hex')}`)
    await writeSynced(tmp, bytes)
    const folder = join(this.dir, sha256.slice(0, 2))
    await mkdirPrivate(folder)
    await rename(tmp, this.path(sha256))
    await syncDir(folder)
    return sha256
  }

  /** The bytes of an artifact, checked against their hash. */
  async get(sha256: string): Promise<Uint8Array> {
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await readFile(this.path(sha256)))
    } catch {
      throw new NotFoundError(`model artifact ${sha256} is missing from ${this.dir}`)
    }
    if (sha256Hex(bytes) !== sha256) throw new NotFoundError(`model artifact ${sha256} is corrupt (hash mismatch)`)
    return bytes
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true })
  }
}

/** fsync a directory so a rename into it survives power loss. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
