/** Pieces the wire schemas share. */
import { z } from 'zod'

/** An ISO 8601 timestamp. */
export const timestamp = z.string().describe('ISO 8601 time')

/**
 * A computed number: null where it is not a finite number (the data held NaN or ±Infinity, or a
 * sum overflowed), as JSON writes those.
 */
export const measure = z.number().nullable().describe('null where not a finite number (NaN or ±Infinity)')
