/** Every shader in shaders/ compiles without errors on this adapter, and its layout matches the wrappers. */
import { describe, expect, it } from 'vitest'
import { KERNELS } from '../../src/kernels/index.js'
import { loadShader, shaderNames } from '../../src/kernels/shaders.js'
import { COLUMN_FIELDS, COLUMN_STRIDE } from '../../src/kernels/tabular-preprocess.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()

describe.runIf(gpu.ok)(gpuTitle('WGSL shaders', gpu), () => {
  it('the registry lists every shader file, and every shader file is in the registry', () => {
    expect(Object.keys(KERNELS).sort()).toEqual(shaderNames())
  })

  for (const name of shaderNames()) {
    it(`${name}.wgsl compiles with no errors and builds its pipeline`, async () => {
      const ctx = await testContext()
      const shader = loadShader(name)
      const module = ctx.device.createShaderModule({ label: name, code: shader.code })
      const info = await module.getCompilationInfo()
      const errors = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)
      expect(errors).toEqual([])
      ctx.device.pushErrorScope('validation')
      ctx.pipeline(shader, { WG: 64 })
      expect(await ctx.device.popErrorScope()).toBeNull()
    })
  }

  it('tabular recipe layout matches WGSL struct Column', async () => {
    await testContext()
    const def = loadShader('tabular-preprocess').defs.storages.columns
    if (!def) throw new Error('tabular-preprocess.wgsl has no `columns` storage binding')
    const struct = (
      def.typeDefinition as { elementType?: { fields?: Record<string, { offset: number }>; size?: number } }
    ).elementType
    expect(struct?.size).toBe(COLUMN_STRIDE)
    COLUMN_FIELDS.forEach((field, i) => {
      expect(struct?.fields?.[field]?.offset, field).toBe(i * 4)
    })
  })
})
