/**
 * Values nested deeper than String() and JSON.stringify can recurse (both overflow the stack by
 * a few thousand levels; JSON.parse does not): a fuzz case puts the marker {@link DEEP} anywhere
 * and {@link serialize} writes it out as such an array.
 */

/** Stands for an array nested 20 000 deep. */
export const DEEP = '<deep>'

/** The JSON text of an array nested 20 000 deep around a 1. */
export const deepText = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`

/** JSON text of a case, with each {@link DEEP} value written out nested. */
export const serialize = (body: unknown): string => JSON.stringify(body).replaceAll(`"${DEEP}"`, deepText)
