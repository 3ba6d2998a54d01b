/**
 * The inference log across hosts sharing a store (PostgreSQL: `blobs` and `files`): segment ids
 * drawn from the store's sequence (n·1024 + the writer's index: unique on every host, growing as
 * drawn), rolled segments shared at the flush after their roll (a blob, and its name in the scope
 * `log/<ws>/<pipeline>`), and the shared segments a read needs copied into this host's folder first,
 * checked against their sha256, to be read as its own. Open segments stay with their host.
 */
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DIR_MODE } from '../durable.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { copyBlob, hashFile } from '../store/blob-files.js'
import type { BlobStore, SharedFileStore } from '../store/types.js'
import { FIRST_SHARED_ID, type LogWriter, SEGMENT, segmentOwner, WRITER_STRIDE } from './segment-names.js'

/** How often a writer looks through a pipeline's shared segments for expired ones no host forgot. */
const SWEEP_MS = 60_000

/** Where a pipeline's segments are shared. */
export function scopeOf(ws: string, pipeline: string): string {
  return `log/${ws}/${pipeline}`
}

/** What sharing needs to know of a pipeline's folder. */
export interface SharedFolder {
  dir: string
  scope: string
  /** Ids of segments rolled here that are not shared yet. */
  unshared: Set<number>
  /** Whether the folder was looked through for segments a crash kept from being shared. */
  scanned: boolean
}

export class SharedSegments {
  /** Folders shared segments were copied into, with their scopes: retention goes through them too. */
  readonly fetchedInto = new Map<string, string>()
  /** When retention next looks through the shared scopes (see {@link forgetExpired}). */
  private sweepAt = 0

  constructor(
    private readonly blobs: BlobStore,
    private readonly files: SharedFileStore,
    private readonly writer: LogWriter,
    private readonly log: Logger,
  ) {}

  /** The id of a folder's next open segment, above `topId` (the highest id it has held). */
  async nextId(topId: number): Promise<number> {
    const n = await this.files.nextSequence('log_segments', Math.floor(topId / WRITER_STRIDE) + 1)
    return n * WRITER_STRIDE + this.writer.index
  }

  /**
   * Store the segments rolled here that the other hosts lack yet: the blob, then its name in the
   * pipeline's scope. A failure is logged and tried again at the next flush; the segment stays here
   * meanwhile. The first time, the folder is looked through for segments of this writer's that a
   * crash kept from being shared (their ids were drawn from the store: from {@link FIRST_SHARED_ID}).
   */
  async share(p: SharedFolder, cutoff: number): Promise<void> {
    try {
      if (!p.scanned) {
        const listed = new Set((await this.files.list(p.scope)).map((f) => f.name))
        for (const f of await readdir(p.dir)) {
          const id = Number(SEGMENT.exec(f)?.[1] ?? 0)
          if (id >= FIRST_SHARED_ID && segmentOwner(id, this.writer.count) === this.writer.index && !listed.has(f))
            p.unshared.add(id)
        }
        p.scanned = true
      }
      if (p.unshared.size === 0) return
      for (const f of await readdir(p.dir)) {
        const m = SEGMENT.exec(f)
        if (!m || !p.unshared.has(Number(m[1]))) continue
        if (Number(m[3]) >= cutoff) {
          const path = join(p.dir, f)
          const { sha256, size } = await hashFile(path)
          await this.blobs.putFile(sha256, path)
          await this.files.put(p.scope, { name: f, sha256, size })
        }
        p.unshared.delete(Number(m[1]))
      }
      p.unshared.clear() // the rest left no segment (removed by retention since)
    } catch (e) {
      this.log.error('inference log: sharing rolled segments failed, tried again at the next flush', {
        scope: p.scope,
        error: errorMessage(e),
      })
    }
  }

  /**
   * Copy the shared segments that may hold rows in `[start, end)`, from id `from` on, that are not
   * among `here` (the folder's files) into `dir`, one at a time; their names.
   */
  async fetchMissing(
    dir: string,
    scope: string,
    here: readonly string[],
    start: number,
    end: number,
    from: number,
    cutoff: number,
  ): Promise<string[]> {
    const have = new Set(here)
    const fetched: string[] = []
    for (const file of await this.files.list(scope)) {
      // The name is the store's: only a segment's name, rebuilt from its numbers, becomes a path.
      const m = SEGMENT.exec(file.name)
      if (!m) continue
      const [id, min, max] = [Number(m[1]), Number(m[2]), Number(m[3])]
      const name = `seg-${id}-${min}-${max}.arrow`
      if (have.has(name) || id < from || max < start || min >= end || max < cutoff) continue
      if (await this.fetch(dir, scope, name, file.sha256)) fetched.push(name)
    }
    return fetched
  }

  /**
   * Copy a shared segment into `dir` as `name`: written to a temporary file (fsynced), checked
   * against its sha256, renamed in, the folder fsynced. A corrupt one is refused; false when it was
   * forgotten since it was listed.
   */
  private async fetch(dir: string, scope: string, name: string, sha256: string): Promise<boolean> {
    await mkdir(dir, { recursive: true, mode: DIR_MODE })
    this.fetchedInto.set(dir, scope)
    const copied = await copyBlob(this.blobs, sha256, join(dir, name))
    if (copied === 'corrupt')
      throw new Error(
        `inference log segment ${name} of ${scope} is corrupt in the shared store (its bytes do not match their sha256 ${sha256}): not read`,
      )
    return copied === 'copied'
  }

  /**
   * Forget in `scope` the expired segments `gone` (deleted from a folder here); and every
   * {@link SWEEP_MS}, once per round over the scopes (`round` is when it began), every expired name
   * of the scope (a segment no surviving host holds). Forgetting a name twice is no error; a
   * failure is logged and the names are forgotten at a later round.
   */
  async forgetExpired(scope: string, gone: string[], expired: (names: string[]) => string[], sweep: boolean) {
    try {
      const listed = sweep ? expired((await this.files.list(scope)).map((f) => f.name)) : []
      const names = [...new Set([...gone, ...listed])]
      if (names.length > 0) await this.files.delete(scope, names)
    } catch (e) {
      this.log.error('inference log: forgetting expired shared segments failed', { scope, error: errorMessage(e) })
    }
  }

  /** Whether this round of retention sweeps the shared scopes (every {@link SWEEP_MS}). */
  sweepDue(): boolean {
    if (Date.now() < this.sweepAt) return false
    this.sweepAt = Date.now() + SWEEP_MS
    return true
  }
}
