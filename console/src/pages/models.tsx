/**
 * Models: each with its versions (sha256, inputs, outputs, size); upload a new version by file
 * picker or by dropping an .onnx file on the page (deployers). The server checks every upload and
 * its refusal is shown under the form.
 */
import { useState } from 'preact/hooks'
import type { Caller, TensorMeta } from '../../../src/client/client.js'
import { can } from '../session.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

const tensors = (ts: TensorMeta[]) => ts.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('; ')

export function ModelsPage({ ctx, caller }: { ctx: Ctx; caller: Caller }) {
  const models = useLoad(async () => {
    const list = await ctx.client.listModels(ctx.ws)
    return Promise.all(list.map((m) => ctx.client.getModel(ctx.ws, m.name)))
  }, [ctx.client, ctx.ws])
  const deployer = can(caller, ctx.ws, 'deployer')
  return (
    <>
      {deployer && <Upload ctx={ctx} done={models.reload} />}
      <Section title={`Models of ${ctx.ws}`}>
        <ErrorNote error={models.error} />
        {!models.data ? (
          <Loading what="models" />
        ) : models.data.length === 0 ? (
          <p class="muted">No models yet.</p>
        ) : (
          models.data.map((m) => (
            <article key={m.name} class="card" aria-label={`model ${m.name}`}>
              <header class="section-head">
                <h3>{m.name}</h3>
                {deployer && (
                  <Action
                    label="Delete"
                    kind="danger"
                    run={async () => {
                      if (!confirm(`Delete model ${m.name} (every version)?`)) return
                      await ctx.client.deleteModel(ctx.ws, m.name)
                      models.reload()
                    }}
                  />
                )}
              </header>
              <table>
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>sha256</th>
                    <th>Inputs</th>
                    <th>Outputs</th>
                    <th>Size</th>
                    <th>Uploaded</th>
                  </tr>
                </thead>
                <tbody>
                  {[...m.versions].reverse().map((v) => (
                    <tr key={v.version}>
                      <td>{v.version}</td>
                      <td>
                        <code title={v.sha256}>{v.sha256.slice(0, 12)}…</code>
                      </td>
                      <td>{tensors(v.inputs)}</td>
                      <td>{tensors(v.outputs)}</td>
                      <td>{fmt.bytes(v.size)}</td>
                      <td>{fmt.time(v.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </article>
          ))
        )}
      </Section>
    </>
  )
}

function Upload({ ctx, done }: { ctx: Ctx; done: () => void }) {
  const [file, setFile] = useState<File | undefined>(undefined)
  const [name, setName] = useState('')
  const [over, setOver] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const [result, setResult] = useState<string | undefined>(undefined)
  const pick = (f: File | undefined) => {
    setFile(f)
    setResult(undefined)
    if (f && !name) setName(f.name.replace(/\.onnx$/i, '').replace(/[^a-z0-9_-]/gi, '_'))
  }
  return (
    <Section title="Upload a model">
      <form
        class={`drop ${over ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          pick(e.dataTransfer?.files[0])
        }}
        onSubmit={async (e) => {
          e.preventDefault()
          if (!file) return setError(new Error('choose an .onnx file, or drop one here'))
          try {
            const v = await ctx.client.uploadModel(ctx.ws, name, new Uint8Array(await file.arrayBuffer()))
            setResult(`${v.name} version ${v.version} ${v.created ? 'stored' : 'already held these bytes'}`)
            setError(undefined)
            setFile(undefined)
            setName('')
            done()
          } catch (err) {
            setError(err)
          }
        }}
      >
        <p>Drop an ONNX file here, or choose one.</p>
        <Field label="File">
          <input type="file" name="file" accept=".onnx" onChange={(e) => pick(e.currentTarget.files?.[0])} />
        </Field>
        <Field label="Model name" error={error}>
          <input name="model-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary">
          Upload
        </button>
        {file && <span class="muted"> {`${file.name}, ${fmt.bytes(file.size)}`}</span>}
        {result && (
          <p class="notice" role="status">
            {result}
          </p>
        )}
      </form>
    </Section>
  )
}
