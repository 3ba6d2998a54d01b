#!/usr/bin/env node
/**
 * Makes a fresh clone ready, so `npm start` and `npm test` each do all of their own set-up:
 * installs dependencies from the lockfile when node_modules is missing or was installed from
 * another lockfile, builds better-sqlite3's native addon from source when it is missing (its
 * prebuilt binaries come from GitHub, which CI cannot reach; the compiler and Node headers are on
 * the machine), then (with --build) compiles TypeScript into dist/ and builds the web console
 * into dist/console/. Uses only Node built-ins.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const stamp = join(root, 'node_modules', '.lastmile-installed')

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.status !== 0) {
    console.error(`lastmile setup: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status ?? 1)
  }
}

const hash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .update(readFileSync(join(root, 'package.json')))
  .digest('hex')
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
  console.error('lastmile setup: installing dependencies from package-lock.json (first run only)...')
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'])
  writeFileSync(stamp, hash)
}
const sqlite = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')
if (!existsSync(sqlite)) {
  console.error('lastmile setup: building SQLite (better-sqlite3) from source, about 2 minutes (first run only)...')
  const r = spawnSync('npm', ['rebuild', 'better-sqlite3', '--ignore-scripts=false', '--loglevel=error'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_build_from_source: 'true' },
    shell: process.platform === 'win32',
  })
  if (r.status !== 0 || !existsSync(sqlite)) {
    console.error(
      'lastmile setup: building better-sqlite3 failed; it needs python3, make and a C++ compiler (Debian: build-essential)',
    )
    process.exit(1)
  }
}
if (process.argv.includes('--build')) {
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'])
  // The web console's page and assets (dist/console/), which the server serves at `/`.
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js')
  run(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts'])
}
