/**
 * Model artifacts, content-addressed by sha256 under `<dataDir>/artifacts/`. A write goes to a
 * temporary file, is fsynced, renamed into place and the folder fsynced: after a crash an
 * artifact is either whole or absent, never half-written. Files are 0600, folders 0700; temporary
 * leftovers and artifacts no model version uses are removed at the server's start (`tidyDataDir`).
 *
 * With a shared store (PostgreSQL), the bytes are also a blob every server reads, and the folder is
 * this server's cache of them: an artifact missing here, or failing its check, is fetched from the
 * blob store, checked, and written here before it is used.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { mkdirPrivate, syncDir, writeSynced } from '../durable.js'
import { NotFoundError } from '../errors.js'
import { within } from './names.js'
import type { BlobStore } from './types.js'

const HEX64 = /^[0-9a-f]{64}$/

/** The folder, under `artifacts/`, where writes wait for their rename. */
export const ARTIFACT_TMP = 'tmp'

/** The sha256 of `bytes`, lower-case hex: an artifact's name. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The artifact folder: model bytes by sha256, written durably, checked on read; the cache of a shared blob store. */
export class ArtifactStore {
  private constructor(
    readonly dir: string,
    private readonly shared: BlobStore | undefined,
  ) {}

  /** Open (creating) the artifact folder; `shared`: the blob store of a store other servers share. */
  static async open(dataDir: string, shared?: BlobStore): Promise<ArtifactStore> {
    const dir = join(dataDir, 'artifacts')
    await mkdirPrivate(dir)
    await mkdirPrivate(join(dir, ARTIFACT_TMP))
    return new ArtifactStore(dir, shared)
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

  /**
   * Store `bytes` durably (here, and as a shared blob when there is a blob store); returns their
   * sha256. Writing the same bytes again is a no-op rename.
   */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(bytes)
    await this.writeHere(sha256, bytes)
    await this.shared?.put(sha256, bytes)
    return sha256
  }

  /** The bytes of an artifact, checked against their hash: this folder's, else the shared blob's (then kept here). */
  async get(sha256: string): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined
    try {
      bytes = new Uint8Array(await readFile(this.path(sha256)))
    } catch (e) {
      if (e instanceof NotFoundError) throw e // not an artifact id
    }
    if (bytes !== undefined && sha256Hex(bytes) === sha256) return bytes
    const here = bytes === undefined ? `is missing from ${this.dir}` : 'is corrupt (hash mismatch)'
    if (this.shared) return this.fetch(sha256, this.shared, here)
    throw new NotFoundError(`model artifact ${sha256} ${here}`)
  }

  /** Remove an artifact here and, when there is a blob store, from it (callers check no model uses it). */
  async remove(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true })
    await this.shared?.delete(sha256)
  }

  /** The shared blob's bytes, checked, then written here (durably, as a put) for the next read; `here`: what the copy here was. */
  private async fetch(sha256: string, shared: BlobStore, here: string): Promise<Uint8Array> {
    const bytes = await shared.get(sha256)
    if (bytes === undefined)
      throw new NotFoundError(`model artifact ${sha256} ${here}, and missing from the shared store`)
    if (sha256Hex(bytes) !== sha256)
      throw new NotFoundError(`model artifact ${sha256} is corrupt in the shared store (hash mismatch)`)
    await this.writeHere(sha256, bytes)
    return bytes
  }

  /** Write `bytes` to a temporary file, fsync it, rename it into place and fsync the folder. */
  private async writeHere(sha256: string, bytes: Uint8Array): Promise<void> {
    const tmp = join(this.dir, ARTIFACT_TMP, `${sha256}.${randomBytes(6).toString('hex')}`)
    await writeSynced(tmp, bytes)
    const folder = join(this.dir, sha256.slice(0, 2))
    await mkdirPrivate(folder)
    await rename(tmp, this.path(sha256))
    await syncDir(folder)
  }
}
