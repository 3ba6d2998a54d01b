/**
 * The data folder as a whole: one server at a time (an OS lock that dies with the process), and a
 * tidy start. The start removes what a crash left behind: temporary files of writes that never
 * reached their rename, artifacts no model version uses, and job folders with no job; then it makes
 * every folder 0700 and every file 0600, for folders written by older versions too.
 *
 * Why removing at start is safe: it runs under the lock, before the server serves, so no upload or
 * job of this server or of another one is in flight. An artifact is stored before its model
 * version is recorded, and a job's input before its job: an artifact without a version, or a
 * folder without a job, was never acknowledged to anyone.
 */
import { chmod, lstat, open, readdir, rm } from 'node:fs/promises'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import { DIR_MODE, FILE_MODE, mkdirPrivate } from '../durable.js'
import { InvalidConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import { ARTIFACT_TMP, ArtifactStore } from './artifacts.js'
import type { Store } from './types.js'

/** Held while a server uses a data folder. */
export interface DataDirLock {
  release(): void
}

/**
 * Take the data folder for this server: an exclusive SQLite lock on `<dataDir>/server.lock`, held
 * until `release()` or the process's end (a crash releases it too). A second server on the same
 * folder is refused: it would resume the same jobs and tidy away the first one's uploads.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdirPrivate(dataDir)
  const path = join(dataDir, 'server.lock')
  await (await open(path, 'a', FILE_MODE)).close()
  await chmod(path, FILE_MODE)
  const db = new Database(path, { timeout: 0 })
  try {
    db.pragma('journal_mode = MEMORY') // no -journal file beside it
    db.exec('BEGIN EXCLUSIVE') // the file lock is held until the transaction ends
  } catch (e) {
    db.close()
    throw new InvalidConfigError(
      `the data folder ${dataDir} is in use by another lastmile server (${(e as Error).message}); stop it or choose another --data`,
    )
  }
  let held = true
  return {
    release() {
      if (held) db.close()
      held = false
    },
  }
}

/** What the start removed (paths relative to the data folder) and how many modes it fixed. */
export interface TidyReport {
  removed: string[]
  modesFixed: number
}

/**
 * lastmile's folders in the data folder: artifacts, job inputs and results, the inference log, the
 * demo model, exported training sets (when LASTMILE_EXPORT_DIR leaves them there).
 */
const OWN_FOLDERS = ['artifacts', 'jobs', 'logs', 'models', 'exports']
/** lastmile's files at the top of the data folder. Nothing else there is touched: it may be the user's. */
const OWN_FILES = ['lastmile.db', 'lastmile.db-wal', 'lastmile.db-shm', 'server.lock']

/** Tidy the data folder at start (see the module comment); call with the lock held, before serving. */
export async function tidyDataDir(dataDir: string, store: Store, log: Logger): Promise<TidyReport> {
  const removed: string[] = []
  const remove = async (path: string) => {
    await rm(path, { recursive: true, force: true })
    removed.push(relative(dataDir, path))
  }
  const jobs = join(dataDir, 'jobs')
  for (const d of await entries(jobs)) {
    if (d.isDirectory() && !(await store.jobs.get(d.name))) await remove(join(jobs, d.name))
  }
  const artifacts = join(dataDir, 'artifacts')
  for (const f of await entries(join(artifacts, ARTIFACT_TMP))) await remove(join(artifacts, ARTIFACT_TMP, f.name))
  for (const sub of await entries(artifacts)) {
    if (!sub.isDirectory() || !/^[0-9a-f]{2}$/.test(sub.name)) continue
    for (const f of await entries(join(artifacts, sub.name))) {
      const sha = ArtifactStore.shaOf(f.name)
      if (sha && !(await store.models.artifactInUse(sha))) await remove(join(artifacts, sub.name, f.name))
    }
  }
  // Writes cut short before their rename (artifacts, job inputs and chunks, log rolls, the demo
  // model, training sets).
  for (const folder of OWN_FOLDERS) {
    for (const f of await filesUnder(join(dataDir, folder))) if (f.endsWith('.tmp')) await remove(f)
  }
  // A training set is announced by its record (`<name>.json`), written after its file: a file
  // without one is an export a crash cut short between the two, never listed nor announced.
  const exported = new Set(await filesUnder(join(dataDir, 'exports')))
  for (const f of exported) if (f.endsWith('.parquet') && !exported.has(`${f.slice(0, -8)}.json`)) await remove(f)
  const modesFixed = await privatise(dataDir)
  if (removed.length > 0 || modesFixed > 0) {
    const shown = 50 // keep the log line short after a crash that left many files
    log.info('data folder tidied at start', {
      removed: removed.slice(0, shown),
      ...(removed.length > shown ? { removedMore: removed.length - shown } : {}),
      modesFixed,
    })
  }
  return { removed, modesFixed }
}

/** Make the data folder and lastmile's folders in it 0700, its files 0600; returns how many changed. */
async function privatise(dataDir: string): Promise<number> {
  let fixed = 0
  const fix = async (path: string, mode: number) => {
    if (((await lstat(path)).mode & 0o777) === mode) return
    await chmod(path, mode)
    fixed++
  }
  /** `dir` and everything in it (links are left alone). */
  const tree = async (dir: string) => {
    await fix(dir, DIR_MODE)
    for (const e of await entries(dir)) {
      if (e.isDirectory()) await tree(join(dir, e.name))
      else if (e.isFile()) await fix(join(dir, e.name), FILE_MODE)
    }
  }
  await fix(dataDir, DIR_MODE)
  for (const e of await entries(dataDir)) {
    if (e.isDirectory() && OWN_FOLDERS.includes(e.name)) await tree(join(dataDir, e.name))
    else if (e.isFile() && OWN_FILES.includes(e.name)) await fix(join(dataDir, e.name), FILE_MODE)
  }
  return fixed
}

/** Regular files under `dir`, at any depth (none when `dir` does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await entries(dir)) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(path)))
    else if (e.isFile()) out.push(path)
  }
  return out
}

async function entries(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}
