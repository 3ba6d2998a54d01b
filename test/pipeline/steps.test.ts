/**
 * Pipeline steps: parsing with errors that name the step and the field (every step type, model
 * references at their edges), the model references a pipeline names and their pinning, how steps
 * compile into stages (pre/post attached to their model step, each ordering error), and the models
 * each routing runs.
 */
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import {
  compileStages,
  mapModelRefs,
  modelRefs,
  parseSteps,
  routingModels,
  type Step,
} from '../../src/pipeline/steps.js'

const KINDS = 'model, models, pre, post, validations, random_split, key_split, shadow'
const PRE = { tabular: { features: [{ standardize: { mean: 1, std: 2 } }] } }
const POST = { activation: 'softmax' }
const REF_RULE = 'a model name, optionally with ":<version>"'

/** The InvalidConfigError's message. */
function configError(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidConfigError)
    return (e as Error).message
  }
  throw new Error('no error')
}
const parseError = (raw: unknown) => configError(() => parseSteps(raw))
const stagesError = (raw: unknown) => configError(() => compileStages(parseSteps(raw)))

describe('parseSteps', () => {
  it('parses every step type, filling the defaults', () => {
    const raw = [
      { pre: PRE },
      { model: 'a' },
      { post: POST },
      { models: ['b', 'c:2'] },
      { validations: { ok: '1 < 2' } },
      { random_split: { weights: [[0.5, 'a']], hash_key: 'customer', seed: 0 } },
      { key_split: { key: 'region', options: { eu: 'b' }, default: 'c' } },
      { shadow: { champion: 'a', challengers: ['b'] } },
    ]
    expect(parseSteps(raw)).toEqual([
      { pre: PRE },
      { model: 'a' },
      { post: { activation: 'softmax', argmax: false } },
      { models: ['b', 'c:2'] },
      { validations: { ok: '1 < 2' } },
      { random_split: { weights: [[0.5, 'a']], hash_key: 'customer', seed: 0 } },
      { key_split: { key: 'region', options: { eu: 'b' }, default: 'c' } },
      { shadow: { champion: 'a', challengers: ['b'] } },
    ])
  })

  it('wants a non-empty array', () => {
    for (const raw of [[], {}, { model: 'a' }, 'model', undefined]) {
      expect(parseError(raw)).toBe('"steps" must be a non-empty array of steps')
    }
  })

  it('wants each step to be an object with exactly one key', () => {
    // 'm' and [{…}] have exactly one key ('0') too: they must be refused as non-objects, not as an unknown type.
    for (const step of ['m', null, [{ model: 'a' }], {}, { model: 'a', models: ['b', 'c'] }, 5]) {
      expect(parseError([{ model: 'a' }, step])).toBe(`step 1: a step is an object with exactly one of ${KINDS}`)
    }
  })

  it('names an unknown step type, Object.prototype members included', () => {
    expect(parseError([{ modle: 'a' }])).toBe(`step 0: unknown step type 'modle'; expected one of ${KINDS}`)
    for (const kind of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      const step = JSON.parse(`{"${kind}": "a"}`)
      expect(parseError([{ model: 'a' }, step])).toBe(`step 1: unknown step type '${kind}'; expected one of ${KINDS}`)
    }
  })

  it('takes model references with an optional positive version, nothing else', () => {
    for (const ref of ['m', 'My.model-2_x', 'm:1', 'm:9', 'm:10', 'm:120']) {
      expect(parseSteps([{ model: ref }])).toEqual([{ model: ref }])
    }
    for (const ref of ['m:0', 'm:01', 'm:', ':1', 'bad name', 'm:1x', 'm:1:2', 'm/1', '', 'é', ' m', 'm ']) {
      expect(parseError([{ model: ref }])).toBe(`step 0 (model): model: ${REF_RULE}`)
    }
  })

  it("names the step, the type and each bad field's path, joined with '; '", () => {
    expect(parseError([{ model: 'a' }, { models: ['a'] }])).toBe('step 1 (models): models: list at least two models')
    expect(parseError([{ models: ['a', 'b c'] }])).toBe(`step 0 (models): models.1: ${REF_RULE}`)
    expect(parseError([{ validations: {} }])).toBe('step 0 (validations): validations: name at least one validation')
    expect(parseError([{ validations: { a: '' } }])).toMatch(/^step 0 \(validations\): validations\.a: \S/)
    expect(parseError([{ validations: { '': '1 < 2' } }])).toMatch(/^step 0 \(validations\): validations\.: \S/)
    expect(
      parseError([
        {
          random_split: {
            weights: [
              [0, 'a'],
              [1, 'b c'],
            ],
          },
        },
      ]),
    ).toMatch(
      /^step 0 \(random_split\): random_split\.weights\.0\.0: [^;]*>0[^;]*; random_split\.weights\.1\.1: a model name, optionally with ":<version>"$/,
    )
    expect(parseError([{ random_split: { weights: [[-1, 'a']] } }])).toMatch(
      /^step 0 \(random_split\): random_split\.weights\.0\.0: /,
    )
    expect(parseError([{ random_split: { weights: [] } }])).toMatch(/^step 0 \(random_split\): random_split\.weights: /)
    expect(parseError([{ random_split: { weights: [[1, 'a']], hash_key: '', seed: 1.5 } }])).toMatch(
      /^step 0 \(random_split\): random_split\.hash_key: [^;]+; random_split\.seed: [^;]+$/,
    )
    expect(parseError([{ random_split: { weights: [[1, 'a']], extra: 1 } }])).toMatch(
      /^step 0 \(random_split\): random_split: .*"extra"/,
    )
    expect(parseError([{ key_split: { key: 'k', options: { x: 'b c' }, default: 'd' } }])).toBe(
      `step 0 (key_split): key_split.options.x: ${REF_RULE}`,
    )
    expect(parseError([{ key_split: { key: 'k', options: {}, default: 'd', fallback: 'e' } }])).toMatch(
      /^step 0 \(key_split\): key_split: .*"fallback"/,
    )
    expect(parseError([{ shadow: { champion: 'a', challengers: [] } }])).toMatch(
      /^step 0 \(shadow\): shadow\.challengers: /,
    )
  })
})

// Every kind of step, with names out of alphabetical order and some repeated.
const ALL: Step[] = parseSteps([
  { pre: PRE },
  { model: 'z' },
  { post: POST },
  { models: ['y', 'x'] },
  { validations: { ok: 'true' } },
  {
    random_split: {
      weights: [
        [1, 'w'],
        [2, 'v'],
        [3, 'z'],
      ],
      hash_key: 'customer',
      seed: 4,
    },
  },
  { key_split: { key: 'region', options: { p: 'u', q: 't', r: 'u' }, default: 's' } },
  { shadow: { champion: 'r', challengers: ['q', 'y'] } },
])

describe('model references', () => {
  it('lists each model once, in order of first appearance', () => {
    expect(modelRefs(ALL)).toEqual(['z', 'y', 'x', 'w', 'v', 'u', 't', 's', 'r', 'q'])
  })

  it('maps every reference and keeps everything else', () => {
    expect(mapModelRefs(ALL, (ref) => `${ref}:7`)).toStrictEqual([
      { pre: PRE },
      { model: 'z:7' },
      { post: { activation: 'softmax', argmax: false } },
      { models: ['y:7', 'x:7'] },
      { validations: { ok: 'true' } },
      {
        random_split: {
          weights: [
            [1, 'w:7'],
            [2, 'v:7'],
            [3, 'z:7'],
          ],
          hash_key: 'customer',
          seed: 4,
        },
      },
      { key_split: { key: 'region', options: { p: 'u:7', q: 't:7', r: 'u:7' }, default: 's:7' } },
      { shadow: { champion: 'r:7', challengers: ['q:7', 'y:7'] } },
    ])
  })
})

describe('compileStages', () => {
  it('attaches pre to the next model step and post to the one before; other steps are stages', () => {
    const stages = compileStages(ALL)
    expect(stages.map((s) => s.step)).toEqual([1, 3, 4, 5, 6, 7])
    const [first, models, validations, ...rest] = stages
    expect(first).toStrictEqual({
      kind: 'models',
      routing: { kind: 'single', model: 'z' },
      pre: PRE,
      post: { activation: 'softmax', argmax: false },
      step: 1,
    })
    expect(models).toStrictEqual({ kind: 'models', routing: { kind: 'multi', models: ['y', 'x'] }, step: 3 })
    expect(validations?.kind).toBe('validations')
    if (validations?.kind !== 'validations') return
    expect(validations.validations.map((v) => [v.name, v.source])).toEqual([['ok', 'true']])
    expect(rest).toStrictEqual([
      {
        kind: 'models',
        routing: {
          kind: 'random',
          weights: [
            [1, 'w'],
            [2, 'v'],
            [3, 'z'],
          ],
          hashKey: 'customer',
          seed: 4,
        },
        step: 5,
      },
      {
        kind: 'models',
        routing: { kind: 'key', key: 'region', options: { p: 'u', q: 't', r: 'u' }, fallback: 's' },
        step: 6,
      },
      { kind: 'models', routing: { kind: 'shadow', champion: 'r', challengers: ['q', 'y'] }, step: 7 },
    ])
  })

  it('keeps a seed of 0 and leaves out a hash key or seed not given', () => {
    const [withZero, bare] = compileStages(
      parseSteps([{ random_split: { weights: [[1, 'a']], seed: 0 } }, { random_split: { weights: [[1, 'b']] } }]),
    )
    expect(withZero?.kind === 'models' && withZero.routing).toStrictEqual({
      kind: 'random',
      weights: [[1, 'a']],
      seed: 0,
    })
    expect(bare?.kind === 'models' && bare.routing).toStrictEqual({ kind: 'random', weights: [[1, 'b']] })
  })

  it('gives a pre step to the next model step only', () => {
    const stages = compileStages(parseSteps([{ pre: PRE }, { model: 'a' }, { model: 'b' }]))
    expect(stages).toStrictEqual([
      { kind: 'models', routing: { kind: 'single', model: 'a' }, pre: PRE, step: 1 },
      { kind: 'models', routing: { kind: 'single', model: 'b' }, step: 2 },
    ])
  })

  it('refuses pre and post steps out of place, naming the step', () => {
    expect(stagesError([{ pre: PRE }, { pre: PRE }, { model: 'a' }])).toBe(
      'step 1 (pre): step 0 is already a pre step for the next model step',
    )
    expect(stagesError([{ model: 'a' }, { pre: PRE }, { validations: { ok: 'true' } }])).toBe(
      'step 1 (pre): a pre step must directly precede a model step',
    )
    // A validation between a pre step and a model step: refused there, not handed on to the model.
    expect(stagesError([{ pre: PRE }, { validations: { ok: 'true' } }, { model: 'a' }])).toBe(
      'step 0 (pre): a pre step must directly precede a model step',
    )
    expect(stagesError([{ model: 'a' }, { model: 'b' }, { pre: PRE }])).toBe(
      'step 2 (pre): a pre step must directly precede a model step',
    )
    const postMisplaced = (i: number) => `step ${i} (post): a post step must directly follow a model step`
    expect(stagesError([{ post: POST }, { model: 'a' }])).toBe(postMisplaced(0))
    expect(stagesError([{ model: 'a' }, { validations: { ok: 'true' } }, { post: POST }])).toBe(postMisplaced(2))
    expect(stagesError([{ model: 'a' }, { post: POST }, { post: POST }])).toBe(postMisplaced(2))
    expect(stagesError([{ model: 'a' }, { pre: PRE }, { post: POST }])).toBe(postMisplaced(2))
  })

  it('needs a model step, and a valid expression in each validation', () => {
    expect(stagesError([{ validations: { ok: 'true' } }])).toBe('a pipeline needs at least one model step')
    expect(stagesError([{ model: 'a' }, { validations: { ok: 'true', bad: '1 +' } }])).toBe(
      `validation 'bad': unexpected 'end' at 3 in "1 +"`,
    )
  })
})

describe('routingModels', () => {
  it('lists the models each routing runs, each once', () => {
    expect(routingModels({ kind: 'single', model: 'a' })).toEqual(['a'])
    expect(routingModels({ kind: 'multi', models: ['c', 'b'] })).toEqual(['c', 'b'])
    expect(
      routingModels({
        kind: 'random',
        weights: [
          [1, 'c'],
          [2, 'b'],
          [3, 'c'],
        ],
      }),
    ).toEqual(['c', 'b'])
    expect(routingModels({ kind: 'key', key: 'k', options: { x: 'c', y: 'b', z: 'c' }, fallback: 'b' })).toEqual([
      'c',
      'b',
    ])
    expect(routingModels({ kind: 'key', key: 'k', options: { x: 'c' }, fallback: 'a' })).toEqual(['c', 'a'])
    expect(routingModels({ kind: 'shadow', champion: 'c', challengers: ['b', 'a'] })).toEqual(['c', 'b', 'a'])
  })
})
