/**
 * What the Open Inference Protocol v2 routes answer, as the protocol's REST spec
 * (`rest_predict_v2.yaml`, required_api.md) defines it: health, server and model metadata,
 * readiness, and the inference response. These keys are the spec's, not lastmile's to change.
 */
import { z } from 'zod'
import { tensorMetaSchema } from './registry.js'

/** `GET /v2/health/live`. */
export const liveSchema = z.object({ live: z.boolean() })
/** `GET /v2/health/ready`. */
export const readySchema = z.object({ ready: z.boolean() })
/** `GET /v2/models/{name}/ready`. */
export const modelReadySchema = z.object({ name: z.string(), ready: z.boolean() })

/** `GET /v2`: the server's name, version and extensions. */
export const serverMetadataSchema = z
  .object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
  .meta({ id: 'OipServerMetadata' })

/** `GET /v2/models/{name}`: a deployed pipeline's inputs and outputs. */
export const modelMetadataSchema = z
  .object({
    name: z.string(),
    versions: z.array(z.string()).optional().describe('The deployed pipeline version, as a string.'),
    platform: z.string(),
    inputs: z.array(tensorMetaSchema),
    outputs: z.array(tensorMetaSchema),
  })
  .meta({ id: 'OipModelMetadata' })

/** `$parameter = $string : $string | $number | $boolean` */
const parametersSchema = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .meta({ id: 'OipParameters' })

/** Tensor elements, flat or nested, row-major. */
type TensorData = Array<number | string | boolean | TensorData>

/** Flat or nested, row-major; absent from an output sent in the binary extension. */
const tensorDataSchema: z.ZodType<TensorData> = z
  .array(z.union([z.number(), z.string(), z.boolean(), z.lazy(() => tensorDataSchema)]))
  .meta({ id: 'OipTensorData' })

/** The JSON inference response (the binary extension's JSON header has the same shape). */
export const inferResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string().optional(),
    id: z.string().optional(),
    parameters: parametersSchema.optional(),
    outputs: z.array(
      z.object({
        name: z.string(),
        shape: z.array(z.number().int().min(0)),
        datatype: z.string(),
        parameters: parametersSchema.optional(),
        data: tensorDataSchema.optional(),
      }),
    ),
  })
  .meta({ id: 'OipInferResponse' })

export type InferResponse = z.infer<typeof inferResponseSchema>
