/**
 * The promotion rule's pure pieces, against values worked by hand: the rule's fields and their
 * refusals, which models of a version compete (a split's heaviest arm against the other, a shadow's
 * champion against its challenger, or the ones the rule names), the steps a decision deploys, each
 * row's score per metric, a challenger put beside a version's model, and a shadow's rows paired.
 */
import { describe, expect, it } from 'vitest'
import { InvalidConfigError, InvalidRequestError } from '../../src/errors.js'
import { withChallenger } from '../../src/outcomes/challenger.js'
import { pairRows } from '../../src/outcomes/champion.js'
import { findContest, parseRule, rowScores, settle } from '../../src/outcomes/promotion-spec.js'
import type { ArmSamples } from '../../src/outcomes/samples.js'
import { parseSteps } from '../../src/pipeline/steps.js'

describe('the promotion rule', () => {
  it('fills in its defaults', () => {
    expect(parseRule({})).toEqual({
      confidence: 0.95,
      metric: 'accuracy',
      min_samples: 1000,
      interval_s: 60,
      rollback_on: { assay_alerts: true, slo_alerts: true },
      action: 'promote',
      webhooks: [],
    })
    expect(parseRule({ rollback_on: { slo_alerts: false }, metric: 'mae', tau: 0.5 })).toMatchObject({
      rollback_on: { assay_alerts: true, slo_alerts: false },
      metric: 'mae',
      tau: 0.5,
    })
  })

  it.each([
    [{ confidence: 1.5 }, /confidence/],
    [{ confidence: 0.5 }, /confidence/],
    [{ metric: 'f1' }, /metric/],
    [{ min_samples: 5 }, /min_samples/],
    [{ min_samples: 1000.5 }, /min_samples/],
    [{ interval_s: 0 }, /interval_s/],
    [{ interval_s: 9 }, /interval_s/],
    [{ action: 'yolo' }, /action/],
    [{ webhooks: ['https://a.example/x', 'https://a.example/x'] }, /webhooks: a webhook is listed twice/],
    [{ webhooks: ['ftp://a.example/x'] }, /webhooks\.0/],
    [{ webhooks: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) }, /webhooks/],
    [{ champion: 'a b' }, /champion/],
    [{ rollback_on: { assays: true } }, /rollback_on/],
    [{ threshold: 3 }, /threshold/],
    [[], /body|expected object/],
  ])('refuses %j, naming the field', (raw, message) => {
    expect(() => parseRule(raw)).toThrow(InvalidConfigError)
    expect(() => parseRule(raw)).toThrow(message)
  })
})

describe('the contest of a version', () => {
  const split = parseSteps([
    {
      random_split: {
        weights: [
          [10, 'b:2'],
          [90, 'a:1'],
        ],
      },
    },
  ])

  it("takes a split's heaviest arm as the champion and the other as the challenger", () => {
    expect(findContest(split, {})).toEqual({
      step: 0,
      kind: 'random_split',
      champion: 'a:1',
      challenger: 'b:2',
      models: ['b:2', 'a:1'],
    })
    // Equal weights: the first listed; the rule may name them, by name or reference.
    const even = parseSteps([
      { model: 'f:1' },
      {
        random_split: {
          weights: [
            [50, 'a:1'],
            [50, 'b:1'],
          ],
        },
      },
    ])
    expect(findContest(even, {})).toMatchObject({ step: 1, champion: 'a:1', challenger: 'b:1' })
    expect(findContest(even, { champion: 'b' })).toMatchObject({ champion: 'b:1', challenger: 'a:1' })
  })

  it("takes a shadow's champion, and its one challenger or the one the rule names", () => {
    const shadow = parseSteps([{ shadow: { champion: 'a:1', challengers: ['b:1', 'c:3'] } }])
    expect(findContest(shadow, {})).toEqual({
      none: 'the shadow step has 2 models besides the champion: name the challenger in the rule',
    })
    expect(findContest(shadow, { challenger: 'c' })).toMatchObject({
      kind: 'shadow',
      champion: 'a:1',
      challenger: 'c:3',
    })
    expect(findContest(shadow, { challenger: 'c:2' })).toEqual({
      none: "the rule's challenger 'c:2' is none of the shadow step's models (a:1, b:1, c:3)",
    })
    expect(findContest(shadow, { champion: 'b', challenger: 'c' })).toEqual({
      none: "in a shadow step the champion is the model that answers ('a:1')",
    })
  })

  it('finds none without exactly one split or shadow step', () => {
    expect(findContest(parseSteps([{ model: 'a:1' }]), {})).toEqual({
      none: 'the version has no random_split or shadow step: no challenger',
    })
    const two = parseSteps([
      {
        random_split: {
          weights: [
            [1, 'a:1'],
            [1, 'b:1'],
          ],
        },
      },
      { shadow: { champion: 'c:1', challengers: ['d:1'] } },
    ])
    expect(findContest(two, {})).toEqual({
      none: 'the version has 2 random_split or shadow steps; a rule compares one',
    })
    expect(findContest(split, { champion: 'b', challenger: 'b:2' })).toEqual({
      none: "the champion and the challenger are the same model ('b:2')",
    })
  })

  it('settles a contest: the step becomes the kept model alone, the other steps stay', () => {
    const steps = parseSteps([
      { validations: { positive: 'in.x[0] > 0' } },
      { shadow: { champion: 'a:1', challengers: ['b:1'] } },
      { post: { activation: 'softmax' } },
    ])
    const contest = findContest(steps, {})
    if ('none' in contest) throw new Error(contest.none)
    expect(settle(steps, contest, 'b:1')).toEqual([steps[0], { model: 'b:1' }, steps[2]])
  })

  it('keeps a hash-keyed split as a split of one arm on its key, so its key column stays an input', () => {
    const steps = parseSteps([
      {
        random_split: {
          weights: [
            [90, 'a:1'],
            [10, 'b:1'],
          ],
          hash_key: 'customer',
          seed: 3,
        },
      },
    ])
    const contest = findContest(steps, {})
    if ('none' in contest) throw new Error(contest.none)
    const settled = settle(steps, contest, 'b:1')
    expect(settled).toEqual([{ random_split: { weights: [[100, 'b:1']], hash_key: 'customer' } }])
    expect(findContest(settled, {})).toEqual({
      none: 'the random_split step has 0 models besides the champion: name the challenger in the rule',
    })
  })
})

describe("each row's score", () => {
  // Three binary rows and one of three classes, worked by hand.
  const probs = Float64Array.from([0.2, 0.8, 0.6, 0.4, 0.5, 0.5, 1, 0])
  const labels = Float64Array.from([1, 1, 0, 1])

  it('is 1 or 0 for accuracy (the first class on ties), NaN without an outcome or for an unknown class', () => {
    expect([...rowScores('accuracy', probs, 2, labels)]).toEqual([1, 0, 1, 0])
    expect([...rowScores('accuracy', probs, 2, Float64Array.from([Number.NaN, 2, -1, 0.5]))]).toEqual([
      Number.NaN,
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ])
  })

  it('is the log of the true class probability for log loss, clipped at 2^-52 as the log loss metric', () => {
    const s = rowScores('log_loss', probs, 2, labels)
    expect(s[0]).toBeCloseTo(Math.log(0.8), 15)
    expect(s[1]).toBeCloseTo(Math.log(0.4), 15)
    expect(s[2]).toBeCloseTo(Math.log(0.5), 15)
    expect(s[3]).toBeCloseTo(-52 * Math.LN2, 12) // ln(2^-52): float64's epsilon, scikit-learn's clip
  })

  it('is −|error| and −error² for a regressor', () => {
    const predicted = Float64Array.from([3, -1, 2.5])
    const actual = Float64Array.from([1, 2, Number.NaN])
    expect([...rowScores('mae', predicted, 1, actual)]).toEqual([-2, -3, Number.NaN])
    expect([...rowScores('rmse', predicted, 1, actual)]).toEqual([-4, -9, Number.NaN])
  })
})

describe('a challenger beside the deployed model', () => {
  const steps = parseSteps([
    { validations: { positive: 'in.x[0] > 0' } },
    { model: 'a:1' },
    { post: { activation: 'softmax' } },
  ])

  it('turns the one model step into a shadow or a canary split', () => {
    expect(withChallenger(steps, 'b:4', { mode: 'shadow', weight: 10 })[1]).toEqual({
      shadow: { champion: 'a:1', challengers: ['b:4'] },
    })
    const canary = withChallenger(steps, 'b:4', { mode: 'canary', weight: 12.5 })
    expect(canary).toEqual([
      steps[0],
      {
        random_split: {
          weights: [
            [87.5, 'a:1'],
            [12.5, 'b:4'],
          ],
        },
      },
      steps[2],
    ])
  })

  it('refuses a version without exactly one model step or with routing, saying why', () => {
    const refuse = (raw: unknown[], model: string, message: RegExp) => {
      expect(() => withChallenger(parseSteps(raw), model, { mode: 'shadow', weight: 10 })).toThrow(InvalidRequestError)
      expect(() => withChallenger(parseSteps(raw), model, { mode: 'shadow', weight: 10 })).toThrow(message)
    }
    refuse(
      [
        {
          random_split: {
            weights: [
              [90, 'a:1'],
              [10, 'b:1'],
            ],
          },
        },
      ],
      'c:1',
      /step 0 is a random_split step/,
    )
    refuse([{ model: 'a:1' }, { model: 'b:1' }], 'c:1', /has 2 model steps/)
    refuse([{ model: 'a:1' }, { models: ['b:1', 'c:1'] }], 'd:1', /step 1 is a models step/)
    refuse([{ model: 'a:1' }], 'a:1', /'a:1' is already the deployed model/)
  })
})

describe("a shadow's rows, paired", () => {
  const arm = (time: number[], outcomes: number[], shadow: boolean): ArmSamples => ({
    arm: shadow ? 'b:1' : 'a:1',
    version: 1,
    shadow,
    width: 1,
    time: Float64Array.from(time),
    predictions: Float64Array.from(time),
    outcomes: Float64Array.from(outcomes),
  })

  it('pairs each challenger row with the next champion row of its time and outcome', () => {
    const nan = Number.NaN
    // Request at 10 (two rows), at 11 (the challenger failed it), at 12 (three rows, one outcome).
    const champion = arm([10, 10, 11, 12, 12, 12], [1, 2, 3, nan, 5, nan], false)
    const challenger = arm([10, 10, 12, 12, 12], [1, 2, nan, 5, nan], true)
    expect(pairRows(champion, challenger)).toEqual([
      [0, 0],
      [1, 1],
      [3, 2],
      [4, 3],
      [5, 4],
    ])
    expect(pairRows(champion, arm([12, 99], [5, 1], true))).toEqual([[4, 0]])
  })
})
