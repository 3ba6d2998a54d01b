/** What the inference log route answers: its rows. */
import { z } from 'zod'

/**
 * One logged row: `time` (ms since the epoch), `pipeline_version`, `model`, `check_failures`,
 * `latency_ms`, then a column per tensor (`in.x`, `out.y`, `out_<model>.y` for shadow models),
 * each a value or a list of values per row.
 */
export const logRowSchema = z.object({ time: z.number() }).catchall(z.unknown()).meta({ id: 'LogRow' })
