/**
 * Every kernel in shaders/, includes spliced, compiles without errors on this adapter and builds
 * its pipeline; reflection and the pipeline cache see the spliced source; layouts match the
 * wrappers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { KERNELS } from '../../src/kernels/index.js'
import { loadShader, shaderNames } from '../../src/kernels/shaders.js'
import { COLUMN_FIELDS, COLUMN_STRIDE } from '../../src/kernels/tabular-preprocess.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { closeTestContext, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()

describe('WGSL kernel registry', () => {
  it('lists every kernel file of shaders/, and every kernel file is in it', () => {
    expect(Object.keys(KERNELS).sort()).toEqual(shaderNames())
  })
})

describe.runIf(gpu.ok)(gpuTitle('WGSL shaders', gpu), () => {
  const roots: string[] = []
  afterAll(async () => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
    await closeTestContext()
  })

  for (const name of shaderNames()) {
    it(`${name}.wgsl, includes spliced, compiles with no errors and builds its pipeline`, async ({ skip }) => {
      const ctx = await testContext()
      const shader = loadShader(name)
      // A kernel that enables a WGSL extension compiles only where the device has its feature.
      const feature = /^\s*enable (subgroups|f16);/m.exec(shader.code)?.[1]
      const required = feature === 'f16' ? 'shader-f16' : feature
      if (required && !ctx.device.features.has(required as GPUFeatureName)) skip(`the device lacks '${required}'`)
      expect(shader.code).not.toMatch(/^\s*\/\/!/m)
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

  it('reflects uniforms and bindings from the spliced source, and caches pipelines by it', async () => {
    const ctx = await testContext()
    const root = mkdtempSync(join(tmpdir(), 'lastmile-wgsl-'))
    roots.push(root)
    mkdirSync(join(root, 'lib'))
    // The uniform struct lives in the include: reflecting the kernel file alone would not find it.
    writeFileSync(join(root, 'lib', 'params.wgsl'), 'struct Params {\n  count: u32,\n  scale: f32,\n  bias: f32,\n}\n')
    const kernel = (body: string) =>
      `//! include "lib/params.wgsl"\n@group(0) @binding(2) var<uniform> params: Params;\n@group(0) @binding(5) var<storage, read_write> out: array<f32>;\n@compute @workgroup_size(1) fn main() {\n  ${body}\n}\n`
    writeFileSync(join(root, 'k.wgsl'), kernel('out[0] = params.scale * f32(params.count) + params.bias;'))
    writeFileSync(join(root, 'k2.wgsl'), kernel('out[0] = params.bias;'))
    const shader = loadShader('k', root)
    const uniforms = shader.defs.uniforms.params
    if (!uniforms) throw new Error('no `params` uniform reflected')
    expect(uniforms.binding).toBe(2)
    expect(uniforms.size).toBe(12)
    const type = uniforms.typeDefinition
    expect('fields' in type ? Object.keys(type.fields as object) : []).toEqual(['count', 'scale', 'bias'])
    expect(shader.defs.storages.out?.binding).toBe(5)

    const before = ctx.pipelineCount()
    const first = ctx.pipeline(shader)
    expect(ctx.pipeline(loadShader('k', root))).toBe(first)
    // The same name with other source (another folder's `k`) is another shader.
    const other = { ...loadShader('k2', root), name: 'k' }
    expect(ctx.pipeline(other)).not.toBe(first)
    expect(ctx.pipelineCount()).toBe(before + 2)
  })

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
