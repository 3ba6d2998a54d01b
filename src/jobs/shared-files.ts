/**
 * A batch job's files shared through the store (PostgreSQL's `blobs` and `files`), so that any host
 * runs, resumes and serves any job: the uploaded input (`input`), stored before the job is added,
 * and each chunk (`chunk-NNNNNN.arrow`), stored before the store commits it. A host's
 * `<data>/jobs/<id>/` is its copy of them: a file missing there (or, for chunks, not matching its
 * hash) is fetched into a temporary name, checked against its sha256, renamed into place and its
 * folder fsynced, as model artifacts are. Nothing read from the store becomes part of a path: the
 * caller names the local file, the store only says which blob holds it.
 */
import { access } from 'node:fs/promises'
import { sha256Hex } from '../store/artifacts.js'
import { copyBlob, hashFile } from '../store/blob-files.js'
import type { BlobStore, SharedFile, SharedFileStore } from '../store/types.js'

/** The name of a job's uploaded input among its shared files. */
export const INPUT_FILE = 'input'

/** The scope of a job's files in the shared store. */
const scopeOf = (id: string) => `job/${id}`

/** Whether the file at `path` has the sha256 `sha256` (false when there is none). */
const sameFile = (path: string, sha256: string) =>
  hashFile(path).then(
    (h) => h.sha256 === sha256,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false
      throw e
    },
  )

/** Whether there is a file (or folder) at `path`. */
export const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

/** Jobs' files in a shared store, and this host's copies of them. */
export class SharedJobFiles {
  constructor(
    private readonly blobs: BlobStore,
    private readonly files: SharedFileStore,
  ) {}

  /** The job's shared files by name (none for a job whose files are in one data folder only). */
  async list(id: string): Promise<Map<string, SharedFile>> {
    return new Map((await this.files.list(scopeOf(id))).map((f) => [f.name, f]))
  }

  /** Share the uploaded input at `path`, whose sha256 and size the upload measured. */
  async putInput(id: string, path: string, file: { sha256: string; size: number }): Promise<void> {
    await this.blobs.putFile(file.sha256, path)
    await this.files.put(scopeOf(id), { name: INPUT_FILE, ...file })
  }

  /** Share a chunk's bytes as `name` (replacing a leftover of that name). */
  async putChunk(id: string, name: string, bytes: Uint8Array): Promise<void> {
    const sha256 = sha256Hex(bytes)
    await this.blobs.put(sha256, bytes)
    await this.files.put(scopeOf(id), { name, sha256, size: bytes.byteLength })
  }

  /** Forget the named files of a job (all of them when `names` is absent), and the blobs nothing else names. */
  async forget(id: string, names?: readonly string[]): Promise<void> {
    await this.files.delete(scopeOf(id), names)
  }

  /**
   * Make `path` hold the shared `file`. A file already at `path` is kept when `check` is 'present'
   * (a file only ever renamed there whole and checked, that never changes: the input) or when its
   * sha256 matches (a chunk, which a host may hold from a run of its own that another host redid).
   * Otherwise the blob is written to a temporary name beside `path`, checked, and renamed into place.
   */
  async materialize(id: string, file: SharedFile, path: string, check: 'present' | 'hash'): Promise<void> {
    if (check === 'present' ? await exists(path) : await sameFile(path, file.sha256)) return
    const copied = await copyBlob(this.blobs, file.sha256, path)
    if (copied === 'missing') throw new Error(`file '${file.name}' of job '${id}' is missing from the shared store`)
    if (copied === 'corrupt')
      throw new Error(`file '${file.name}' of job '${id}' is corrupt in the shared store (hash mismatch); not used`)
  }
}
