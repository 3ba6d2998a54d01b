/** What a call throws, for tests that check a refusal's class and words. */
import { expect } from 'vitest'

/** What `f` threw; fails the test when it returns instead. */
export function refusal(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a refusal')
}

/** Expect `f` to throw a `kind` whose message is exactly `message`. */
export function expectRefusal(f: () => unknown, kind: abstract new (...args: never[]) => Error, message: string): void {
  const e = refusal(f)
  expect(e).toBeInstanceOf(kind)
  expect(e.message).toBe(message)
}

/** What `p` rejected with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a refusal')
}
