/**
 * The name rules and the path guard: the registry's names pass, anything that could leave its
 * folder (`..`, `/`, `\`, NUL, a leading dot) is refused with the kind and the rule, and a path
 * built from names stays under its root. The inference log, the last place a pipeline name
 * becomes a folder, refuses a name that would read another workspace's log.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog } from '../../src/logs/inference-log.js'
import { checkName, namedPath, within } from '../../src/store/names.js'

describe('name rules', () => {
  it('accepts the names the registry creates and the ids lastmile makes', () => {
    for (const name of ['demo', 'demo_classifier', 'm2', 'v1.2-rc', 'A', `a${'b'.repeat(127)}`, 'job-lx3k9-0a1b2c3d'])
      expect(() => checkName('pipeline', name), name).not.toThrow()
    for (const ws of ['default', 'teama', 'team-b_2', `w${'x'.repeat(62)}`])
      expect(() => checkName('workspace', ws), ws).not.toThrow()
  })

  it('refuses traversal, separators, NUL, a leading dot, an empty or too long name', () => {
    const bad = ['..', '.', '../teamb', 'a/b', 'a\\b', 'x\0', '\0', '.hidden', '', ' a', 'a b', `a${'b'.repeat(128)}`]
    for (const name of bad) expect(() => checkName('pipeline', name), JSON.stringify(name)).toThrow(InvalidRequestError)
    // Workspaces are lower case and at most 63 long.
    for (const ws of ['Teama', 'a.b', `w${'x'.repeat(63)}`]) expect(() => checkName('workspace', ws), ws).toThrow()
  })

  it('says which kind of name was refused and what the rule is, escaping what it shows', () => {
    expect(() => checkName('pipeline', '../teamb/secretpipe')).toThrow(
      'pipeline name "../teamb/secretpipe" is not valid: use letters, digits, ., - and _, first a letter or digit, at most 128',
    )
    expect(() => checkName('job', 'x\0y')).toThrow('job id "x\\u0000y" is not valid')
    expect(() => checkName('workspace', 'A')).toThrow('workspace name "A" is not valid: use lower-case letters')
    const called = (kind: Parameters<typeof checkName>[0]) => {
      try {
        checkName(kind, '..')
      } catch (e) {
        return (e as Error).message.split(' "')[0]
      }
    }
    expect((['model', 'pipeline', 'assay', 'job', 'explanation', 'key', 'version'] as const).map(called)).toEqual([
      'model name',
      'pipeline name',
      'assay id',
      'job id',
      'explanation id',
      'key id',
      'version',
    ])
    // A long name is shown cut at 64 characters.
    const long = `${'x'.repeat(70)}/`
    expect(() => checkName('model', long)).toThrow(`model name "${'x'.repeat(64)}…" is not valid`)
    expect(() => checkName('model', `${'y'.repeat(63)}/`)).toThrow(`model name "${'y'.repeat(63)}/" is not valid`)
  })
})

describe('paths built from names', () => {
  const root = '/data/logs'

  it('joins checked names under the root', () => {
    expect(namedPath(root, ['workspace', 'teama'], ['pipeline', 'p.v2'])).toBe('/data/logs/teama/p.v2')
    expect(within(root, 'ab', 'abc.onnx')).toBe('/data/logs/ab/abc.onnx')
  })

  it('refuses a name that breaks its rule before anything else', () => {
    expect(() => namedPath(root, ['workspace', 'teama'], ['pipeline', '../teamb/secret'])).toThrow('pipeline name')
    expect(() => namedPath(root, ['workspace', '..'], ['pipeline', 'p'])).toThrow('workspace name')
  })

  it('refuses parts that are not one path segment each, or resolve outside the root or onto it', () => {
    const bad = [
      ['..', 'teamb'],
      ['a', '..', '..', 'x'],
      ['/etc/passwd'],
      ['a/b'],
      ['a\\b'],
      ['.'],
      ['a', '..'],
      ['x\0'],
      [''],
    ]
    for (const parts of bad) expect(() => within(root, ...parts), JSON.stringify(parts)).toThrow(InvalidRequestError)
    // Parts that are not one segment each even where the joined path stays inside the root.
    for (const parts of [
      ['a', '..', 'b'],
      ['a', '.', 'b'],
      ['', 'a'],
      ['a', ''],
    ])
      expect(() => within(root, ...parts), JSON.stringify(parts)).toThrow(InvalidRequestError)
    expect(() => within(root, 'a', '..', 'b')).toThrow('"a/../b" does not name a file inside its folder')
    // `..name` is a plain file name, not a way up.
    expect(within(root, '..name')).toBe('/data/logs/..name')
  })
})

describe('the inference log and names from outside', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-names-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("refuses to read a folder outside the pipeline's workspace, whatever the caller checked", async () => {
    const log = await InferenceLog.open(
      dir,
      {
        sampleRate: 1,
        retentionHours: 24,
        rollBytes: 1 << 20,
        rollSeconds: 3600,
        flushMs: 60_000,
        maxBufferedRows: 1000,
        maxBufferedBytes: 1 << 20,
      },
      silentLogger,
    )
    try {
      await expect(log.query('teama', '../teamb/secretpipe')).rejects.toThrow('pipeline name "../teamb/secretpipe"')
      await expect(log.query('teama/../teamb', 'secretpipe')).rejects.toThrow('workspace name')
      await expect(log.values('teama', '..', 'in.x', undefined, undefined)).rejects.toThrow(InvalidRequestError)
      expect(await log.query('teama', 'p')).toEqual([])
    } finally {
      await log.close()
    }
  })
})
