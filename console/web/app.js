// Ben console: Preact + htm, no build step. Pages are hash routes; data comes from /api.
import { h, render } from 'preact'
import { useEffect, useRef, useState, useCallback } from 'preact/hooks'
import htm from 'htm'
import uPlot from 'uplot'

const html = htm.bind(h)
const KINDS = ['incident', 'anomaly', 'decision', 'command', 'ack', 'dlq']
const SEVERITIES = ['low', 'medium', 'high', 'critical']
const MAX_ITEMS = 500
const MAX_HELD = 2000

let csrf = ''

async function api(path, init = {}) {
  const headers = { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.method && init.method !== 'GET' ? { 'x-csrf-token': csrf } : {}) }
  const res = await fetch(path, { ...init, headers, credentials: 'same-origin' })
  if (res.status === 401) {
    location.href = '/'
    throw new Error('logged out')
  }
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }))
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`)
  return body
}

const iso = (t) => new Date(t).toISOString().replace('T', ' ').slice(0, 23)
const short = (id) => String(id || '').slice(0, 8)
const ago = (t) => {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000))
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : s < 172800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`
}
const num = (v) => (Number.isInteger(v) ? String(v) : Number(v).toPrecision(4))

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/live')
  useEffect(() => {
    const on = () => setHash(location.hash || '#/live')
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash.slice(1).split('/').filter(Boolean).map(decodeURIComponent)
}

function useLoad(fn, deps, everyMs) {
  const [state, setState] = useState({ loading: true })
  useEffect(() => {
    let live = true
    const run = () =>
      fn().then(
        (data) => live && setState({ data }),
        (err) => live && setState((s) => ({ ...s, loading: false, error: err.message })),
      )
    setState({ loading: true })
    run()
    const t = everyMs ? setInterval(run, everyMs) : undefined
    return () => {
      live = false
      if (t) clearInterval(t)
    }
  }, deps)
  return state
}

// On the first page of a visit focus stays where the browser puts it (Tab reaches the skip link
// first); after each route change the new page's heading takes focus, for screen readers.
let firstPage = true
function Heading({ children }) {
  const ref = useRef()
  useEffect(() => {
    if (firstPage) firstPage = false
    else if (ref.current) ref.current.focus()
  }, [])
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`
}

const Sev = ({ s }) => (s ? html`<span class=${`sev sev-${s}`}>${s}</span>` : null)
const Kind = ({ k }) => html`<span class=${`kind kind-${k}`}>${k}</span>`
const FactLink = ({ id }) => html`<a class="fact" href=${`#/fact/${id}`} title=${id}>${short(id)}</a>`
const SourceLink = ({ s }) => html`<a href=${`#/source/${encodeURIComponent(s)}`}>${s}</a>`
const Problem = ({ text }) => (text ? html`<p role="alert" class="error">${text}</p>` : null)

// ---- live feed ---------------------------------------------------------------------------

function feedLine(item) {
  if (item.kind === 'dlq') {
    const d = item.dlq
    return { ts: d.time, source: d.stage, severity: '', text: `${d.stage}: ${d.reason}: ${d.message} (${d.subject}, ${d.bytes} bytes)`, id: d.id }
  }
  const f = item.fact
  const p = f.payload
  switch (f.kind) {
    case 'anomaly':
      return { ts: f.ts, source: f.source, severity: p.severity, text: `${p.metric}=${num(p.value)} score ${num(p.score)}: ${f.explain || ''}`, id: f.id }
    case 'decision':
      return { ts: f.ts, source: f.source, severity: p.severity, text: `${p.outcome}${p.rule ? ` by ${p.rule}` : ''}: ${f.explain || p.reason}`, id: f.id }
    case 'command':
      return { ts: f.ts, source: p.target, severity: '', text: `${p.status} ${p.verb} → ${p.target}: ${f.explain || ''}`, id: f.id, commandId: p.commandId, proposed: p.status === 'proposed' }
    case 'ack':
      return { ts: f.ts, source: p.target, severity: '', text: `${p.status} ${p.verb} on ${p.target}${p.reason ? ` (${p.reason})` : ''}`, id: f.id }
    case 'incident':
      return { ts: f.ts, source: f.source, severity: p.severity, text: `${p.transition}: ${p.title}`, id: f.id, incidentId: p.incidentId }
    default:
      return { ts: f.ts, source: f.source, severity: '', text: f.explain || f.kind, id: f.id }
  }
}

function LivePage() {
  const [filters, setFilters] = useState({ kinds: KINDS.slice(), source: '', severity: 'medium', since: '15m' })
  const [draft, setDraft] = useState(filters)
  const [items, setItems] = useState([])
  const [paused, setPaused] = useState(false)
  const [held, setHeld] = useState(0)
  const [status, setStatus] = useState('connecting')
  const pausedRef = useRef(false)
  const heldRef = useRef([])

  useEffect(() => {
    setItems([])
    heldRef.current = []
    setHeld(0)
    const q = new URLSearchParams({ kinds: filters.kinds.join(','), since: filters.since })
    if (filters.source) q.set('source', filters.source)
    if (filters.severity) q.set('severity', filters.severity)
    const es = new EventSource(`/api/feed?${q}`)
    let pending = []
    let timer
    const flush = () => {
      timer = undefined
      const batch = pending
      pending = []
      if (pausedRef.current) {
        heldRef.current = [...batch.reverse(), ...heldRef.current].slice(0, MAX_HELD)
        setHeld(heldRef.current.length)
      } else setItems((xs) => [...batch.reverse(), ...xs].slice(0, MAX_ITEMS))
    }
    es.onopen = () => setStatus('live')
    es.onerror = () => setStatus('reconnecting')
    es.onmessage = (e) => {
      const item = JSON.parse(e.data)
      pending.push({ ...item, line: feedLine(item), key: `${item.kind}:${feedLine(item).id}` })
      timer ??= setTimeout(flush, 200)
    }
    es.addEventListener('dropped', (e) => setStatus(`live (${e.data} items dropped: the browser fell behind)`))
    es.addEventListener('failure', (e) => setStatus(`feed failed: ${JSON.parse(e.data)}`))
    return () => {
      es.close()
      clearTimeout(timer)
    }
  }, [filters])

  const togglePause = () => {
    const next = !paused
    pausedRef.current = next
    setPaused(next)
    if (!next) {
      const h = heldRef.current
      heldRef.current = []
      setHeld(0)
      setItems((xs) => [...h, ...xs].slice(0, MAX_ITEMS))
    }
  }
  const apply = (e) => {
    e.preventDefault()
    setFilters({ ...draft })
  }
  const toggleKind = (k) => setDraft((d) => ({ ...d, kinds: d.kinds.includes(k) ? d.kinds.filter((x) => x !== k) : [...d.kinds, k] }))

  return html`<section>
    <${Heading}>Live<//>
    <form class="filters" onSubmit=${apply} aria-label="feed filters">
      <fieldset><legend>Show</legend>
        ${KINDS.map((k) => html`<label class="check"><input type="checkbox" checked=${draft.kinds.includes(k)} onChange=${() => toggleKind(k)} /> ${k === 'dlq' ? 'dead letters' : k === 'anomaly' ? 'anomalies' : k + 's'}</label>`)}
      </fieldset>
      <label>Source <input name="source" placeholder="web-* or web-3" value=${draft.source} onInput=${(e) => { const v = e.target.value; setDraft((d) => ({ ...d, source: v })) }} /></label>
      <label>Min. severity <select name="severity" value=${draft.severity} onChange=${(e) => { const v = e.target.value; setDraft((d) => ({ ...d, severity: v })) }}>
        <option value="">any</option>${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      <label>From <select name="since" value=${draft.since} onChange=${(e) => { const v = e.target.value; setDraft((d) => ({ ...d, since: v })) }}>
        <option value="new">now on</option><option value="5m">5 min ago</option><option value="15m">15 min ago</option><option value="60m">1 h ago</option><option value="1440m">1 day ago</option>
      </select></label>
      <button type="submit">Apply</button>
      <button type="button" class=${paused ? 'primary' : ''} aria-pressed=${paused} onClick=${togglePause}>${paused ? `Resume (${held} held)` : 'Pause'}</button>
    </form>
    <p class="status" role="status" aria-live="polite">Feed ${status}; ${items.length} shown${paused ? `, paused with ${held} held` : ''}.</p>
    <ol class="feed" aria-label="live feed, newest first">
      ${items.map(({ kind, line, key }) => html`<li key=${key} class=${`item item-${kind}`} data-kind=${kind}>
        <time>${iso(line.ts).slice(11)}</time> <${Kind} k=${kind} /> <${Sev} s=${line.severity} />
        ${kind === 'dlq' ? html`<span class="src">${line.source}</span>` : html`<${SourceLink} s=${line.source} />`}
        <span class="text">${line.text}</span>
        ${line.incidentId ? html` <a href=${`#/incident/${line.incidentId}`}>incident ${short(line.incidentId)}</a>` : null}
        ${line.proposed ? html` <a href="#/approvals">needs approval</a>` : null}
        ${kind !== 'dlq' ? html` <${FactLink} id=${line.id} />` : null}
      </li>`)}
    </ol>
  </section>`
}

// ---- incidents ---------------------------------------------------------------------------

function IncidentsPage() {
  const [f, setF] = useState({ open: false, severity: '', source: '' })
  const q = new URLSearchParams()
  if (f.open) q.set('open', '1')
  if (f.severity) q.set('severity', f.severity)
  if (f.source) q.set('source', f.source)
  const { data, error } = useLoad(() => api(`/api/incidents?${q}`), [f.open, f.severity, f.source], 5000)
  return html`<section>
    <${Heading}>Incidents<//>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label class="check"><input type="checkbox" checked=${f.open} onChange=${(e) => setF({ ...f, open: e.target.checked })} /> open only</label>
      <label>Min. severity <select value=${f.severity} onChange=${(e) => setF({ ...f, severity: e.target.value })}><option value="">any</option>${SEVERITIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>Source <input value=${f.source} placeholder="web-*" onChange=${(e) => setF({ ...f, source: e.target.value })} /></label>
    </form>
    <${Problem} text=${error} />
    ${data ? html`<div class="scroll"><table class="incidents"><caption>${data.length} incidents, most recently active first</caption>
      <thead><tr><th scope="col">incident</th><th scope="col">severity</th><th scope="col">status</th><th scope="col">source</th><th scope="col">updated</th><th scope="col">title</th></tr></thead>
      <tbody>${data.map((r) => html`<tr key=${r.id}><td><a href=${`#/incident/${r.id}`}>${short(r.id)}</a></td><td><${Sev} s=${r.severity} /></td><td>${r.status}</td><td><${SourceLink} s=${r.source} /></td><td>${iso(r.updatedAt)}</td><td>${r.title}</td></tr>`)}</tbody>
    </table></div>` : html`<p>Loading…</p>`}
  </section>`
}

const STAGES = [
  ['alert', 'alerts', 'alert'],
  ['anomaly', 'anomalies', 'anomaly'],
  ['decision', 'decisions', 'decision'],
  ['command', 'commands', 'command'],
  ['ack', 'acks', 'ack'],
]

function factSummary(f) {
  const p = f.payload
  switch (f.kind) {
    case 'alert':
      return `${p.rule} ${p.severity}: ${p.message}`
    case 'anomaly':
      return `${p.metric}=${num(p.value)} score ${num(p.score)} (threshold ${num(p.threshold)}), ${p.severity}`
    case 'decision':
      return `${p.outcome}${p.rule ? ` by ${p.rule}` : ''}${p.command ? `: ${p.command.verb} on ${p.command.target}` : ''}${p.suppressed ? ` (suppressed ×${p.suppressed})` : ''}`
    case 'command':
      return `${p.status} ${p.verb} → ${p.target} (${p.signatures.map((s) => s.role).join(' + ')})`
    case 'ack':
      return `${p.status} ${p.verb} on ${p.target}${p.reason ? ` (${p.reason})` : ''}`
    default:
      return f.explain || f.kind
  }
}

function IncidentPage({ id }) {
  const { data, error } = useLoad(() => api(`/api/incidents/${encodeURIComponent(id)}`), [id])
  if (error) return html`<section><${Heading}>Incident ${short(id)}<//><${Problem} text=${error} /></section>`
  if (!data) return html`<section><${Heading}>Incident ${short(id)}<//><p>Loading…</p></section>`
  const inc = data.incident
  const p = inc.payload
  const byKind = Object.fromEntries(STAGES.map(([k]) => [k, data.facts.filter((f) => f.kind === k)]))
  return html`<section>
    <${Heading}>Incident ${short(p.incidentId)}: ${p.title}<//>
    <dl class="meta">
      <dt>severity</dt><dd><${Sev} s=${p.severity} /></dd>
      <dt>status</dt><dd>${p.transition === 'resolved' ? 'resolved' : `open (${p.transition})`}</dd>
      <dt>source</dt><dd><${SourceLink} s=${inc.source} /></dd>
      <dt>entity</dt><dd>${Object.entries(p.entity).map(([k, v]) => `${k}=${v}`).join(' ')}</dd>
      <dt>opened</dt><dd>${iso(p.openedAt)}</dd><dt>updated</dt><dd>${iso(p.updatedAt)}</dd>
    </dl>
    <h2>Timeline</h2>
    <p class="flow">${STAGES.map(([k, label, one], i) => html`${i ? ' → ' : ''}<a href=${`#stage-${k}`} onClick=${(e) => { e.preventDefault(); document.getElementById(`stage-${k}`).scrollIntoView() }}>${byKind[k].length} ${byKind[k].length === 1 ? one : label}</a>`)}</p>
    <div class="timeline">
      ${STAGES.map(([k, label]) => html`<section class="lane" id=${`stage-${k}`} aria-label=${label}>
        <h3><${Kind} k=${k} /> ${label}</h3>
        ${byKind[k].length ? html`<ol>${byKind[k].map((f) => html`<li key=${f.id}><time>${iso(f.ts).slice(11)}</time> <${FactLink} id=${f.id} /> ${factSummary(f)}${f.explain && f.kind !== 'alert' ? html`<details><summary>explain</summary><div class="explain">${f.explain}</div></details>` : null}</li>`)}</ol>` : html`<p class="none">none</p>`}
      </section>`)}
    </div>
    <h2>Narrative</h2>
    <ol class="narrative">${data.narrative.sentences.map((s, i) => html`<li key=${i}>${s.text} ${s.factIds.map((fid) => html`<${FactLink} id=${fid} /> `)}</li>`)}</ol>
    <${ReplayPanel} id=${p.incidentId} />
  </section>`
}

function ReplayResult({ r }) {
  if (!r) return null
  const c = r.counts
  return html`<div class="result" role="status">
    <p class=${r.identical ? 'ok' : 'warn'}><strong>${r.identical ? `identical (${c.compared} facts)` : `different: ${c.changed} changed, ${c.missing} missing, ${c.extra} extra (of ${c.compared})`}</strong>
      — ${r.stats.inputFacts} facts replayed from ${r.readFrom}${r.startedAfterScrub ? ' (after scrub)' : ''} in ${(r.stats.elapsedMs / 1000).toFixed(1)} s</p>
    ${!r.identical && !r.whatIf ? html`<ul class="diffs">${r.diffs.map((d) => html`<li>${d.status} ${d.kind} <${FactLink} id=${d.id} /> ${d.source}: ${d.fields.map((x) => `${x.path}: ${JSON.stringify(x.recorded)} → ${JSON.stringify(x.rebuilt)}`).join('; ')}</li>`)}</ul>` : null}
    ${r.whatIf ? html`<p>What-if <code>${r.whatIf.path}</code> (${r.whatIf.kind}): ${r.whatIf.changes.length} decisions/commands would differ.</p>
      <ul class="diffs">${r.whatIf.changes.map((ch) => html`<li>${ch.status} ${ch.kind} ${short(ch.id)} on ${ch.source}: ${desc(ch.recorded)} → ${desc(ch.whatIf)}${ch.whatIf && ch.whatIf.explain ? html`<div class="explain">${ch.whatIf.explain}</div>` : null}</li>`)}</ul>` : null}
    ${r.notes.length ? html`<ul class="notes">${r.notes.map((n) => html`<li>note: ${n}</li>`)}</ul>` : null}
  </div>`
}
const desc = (s) => (s ? `${s.outcome}${s.rule ? ` by ${s.rule}` : ''}${s.verb ? ` ${s.verb}${s.target ? ` on ${s.target}` : ''}` : ''}${s.suppressed ? ` (suppressed ×${s.suppressed})` : ''}${s.blocked ? ` [blocked: ${s.blocked}]` : ''}` : '(none)')

function ReplayPanel({ id }) {
  const [busy, setBusy] = useState('')
  const [result, setResult] = useState(null)
  const [whatIfResult, setWhatIfResult] = useState(null)
  const [error, setError] = useState('')
  const [pack, setPack] = useState({ name: 'pasted.yaml', text: '' })
  const run = async (what) => {
    setBusy(what)
    setError('')
    try {
      const body = what === 'whatif' ? { whatIf: pack } : {}
      const r = await api(`/api/incidents/${id}/replay`, { method: 'POST', body: JSON.stringify(body) })
      if (what === 'whatif') setWhatIfResult(r)
      else setResult(r)
    } catch (err) {
      setError(err.message)
    } finally {
      setBusy('')
    }
  }
  const load = (e) => {
    const f = e.target.files && e.target.files[0]
    if (f) f.text().then((text) => setPack({ name: f.name, text }))
  }
  return html`<section aria-labelledby="replay-h">
    <h2 id="replay-h">Replay</h2>
    <p>Rebuilds the incident from the recorded facts with the same stage code and config revisions, and compares.</p>
    <button type="button" class="primary" onClick=${() => run('replay')} disabled=${!!busy}>${busy === 'replay' ? 'Replaying…' : 'Replay'}</button>
    <${ReplayResult} r=${result} />
    <h2>What-if</h2>
    <label for="pack">A policy pack, detector config or redaction manifest (YAML), pasted or uploaded</label>
    <textarea id="pack" rows="8" value=${pack.text} onInput=${(e) => setPack({ ...pack, text: e.target.value })} spellcheck="false"></textarea>
    <div class="row"><label>Upload <input type="file" accept=".yaml,.yml,.json,text/yaml" onChange=${load} /></label>
    <button type="button" onClick=${() => run('whatif')} disabled=${!!busy || !pack.text.trim()}>${busy === 'whatif' ? 'Running…' : 'Run what-if'}</button></div>
    <${Problem} text=${error} />
    <${ReplayResult} r=${whatIfResult} />
  </section>`
}

// ---- fleet and sources -------------------------------------------------------------------

function groupKey(s, by) {
  if (by === 'prefix') return s.source.replace(/-?[0-9]+$/, '') || s.source
  if (!by) return 'all sources'
  const l = s.labels.find((x) => x.startsWith(by + '='))
  return l ? l : `no ${by}`
}

function FleetPage() {
  const { data, error } = useLoad(() => api('/api/fleet'), [], 5000)
  const [by, setBy] = useState('prefix')
  if (!data) return html`<section><${Heading}>Fleet<//>${error ? html`<${Problem} text=${error} />` : html`<p>Loading…</p>`}</section>`
  const keys = [...new Set(data.sources.flatMap((s) => s.labels.map((l) => l.split('=')[0])))].sort()
  const groups = {}
  for (const s of data.sources) (groups[groupKey(s, by)] ??= []).push(s)
  return html`<section>
    <${Heading}>Fleet<//>
    <${Problem} text=${error} />
    <label>Group by <select value=${by} onChange=${(e) => setBy(e.target.value)}><option value="">nothing</option><option value="prefix">name prefix</option>${keys.map((k) => html`<option value=${k}>label ${k}</option>`)}</select></label>
    ${Object.entries(groups).sort(([a], [b]) => a.localeCompare(b)).map(([g, ss]) => html`<section class="group" aria-label=${g}><h2>${g} <small>(${ss.length})</small></h2>
      <ul class="cards">${ss.map((s) => html`<li class=${`card ${s.openIncidents ? 'hot' : ''}`} key=${s.source}>
        <h3><${SourceLink} s=${s.source} /></h3>
        <p>last seen ${ago(s.lastSeen)} <small>(${iso(s.lastSeen)})</small></p>
        <p>${s.factsLastHour} facts, ${s.anomaliesLastHour} anomalies in the last hour ${s.worstSeverity ? html`(worst <${Sev} s=${s.worstSeverity} />)` : ''}</p>
        <p>${s.openIncidents ? html`<strong>${s.openIncidents} open incident${s.openIncidents > 1 ? 's' : ''}</strong>` : 'no open incident'}</p>
        ${s.labels.length ? html`<p class="labels">${s.labels.slice(0, 6).join(' ')}</p>` : null}
      </li>`)}</ul></section>`)}
    <h2>Sidecars</h2>
    ${data.sidecars.length ? html`<div class="scroll"><table><thead><tr><th scope="col">sidecar</th><th scope="col">version</th><th scope="col">hello</th><th scope="col">WAL depth</th><th scope="col">WAL lag (seq)</th><th scope="col">verbs</th></tr></thead>
      <tbody>${data.sidecars.map((h) => html`<tr><td><${SourceLink} s=${h.instance} /></td><td>${h.version}</td><td>${ago(h.ts)}</td><td>${h.info.walDepth ?? ''}</td><td>${h.info.walLastSeq !== undefined ? Number(h.info.walLastSeq) - Number(h.info.walAckedSeq || 0) : ''}</td><td>${h.info.verbs ?? ''}</td></tr>`)}</tbody></table></div>` : html`<p>No sidecar has said hello.</p>`}
    <h2>Ben</h2>
    <ul>${data.components.map((h) => html`<li>${h.component} ${h.instance} ${h.version}, started ${ago(h.ts)} (${(h.info.services ?? '').split(',').join(', ')})</li>`)}</ul>
    <h2>Pipeline lag</h2>
    <div class="scroll"><table><thead><tr><th scope="col">stream</th><th scope="col">consumer</th><th scope="col">pending</th><th scope="col">ack pending</th><th scope="col">redelivered</th></tr></thead>
      <tbody>${data.consumers.map((c) => html`<tr><td>${c.stream}</td><td>${c.consumer}</td><td class=${c.pending > 1000 ? 'warn' : ''}>${c.pending}</td><td>${c.ackPending}</td><td>${c.redelivered}</td></tr>`)}</tbody></table></div>
  </section>`
}

function Chart({ title, opts, data }) {
  const ref = useRef()
  useEffect(() => {
    const el = ref.current
    const width = () => Math.max(280, el.clientWidth)
    const u = new uPlot({ ...opts, title, width: width(), height: 220 }, data, el)
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: 220 }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
    }
  }, [data])
  return html`<figure class="chart" ref=${ref} aria-label=${title}></figure>`
}

function seriesChart(s, anomalies, step) {
  const xs = s.points.map((p) => p[0] / 1000)
  const ys = s.points.map((p) => p[1])
  const idx = new Map(s.points.map((p, i) => [p[0], i]))
  const marks = xs.map(() => null)
  const lo = xs.map(() => null)
  const hi = xs.map(() => null)
  for (const a of anomalies) {
    const i = idx.get(Math.floor(a.ts / step) * step)
    if (i === undefined) continue
    marks[i] = a.value
    lo[i] = a.centre - a.spread
    hi[i] = a.centre + a.spread
  }
  return {
    data: [xs, ys, lo, hi, marks],
    opts: {
      series: [
        {},
        { label: 'value', stroke: '#1d4ed8', width: 1.5 },
        { label: 'baseline −', stroke: '#9ca3af', dash: [4, 4], spanGaps: true },
        { label: 'baseline +', stroke: '#9ca3af', dash: [4, 4], spanGaps: true },
        { label: 'anomaly', stroke: '#b91c1c', width: 0, points: { show: true, size: 8, fill: '#b91c1c' } },
      ],
      bands: [{ series: [3, 2], fill: 'rgba(156,163,175,0.2)' }],
      axes: [{}, { size: 60 }],
    },
  }
}

function SourcePage({ source }) {
  const [win, setWin] = useState('30')
  const { data, error } = useLoad(() => api(`/api/sources/${encodeURIComponent(source)}?window=${win}`), [source, win])
  const withAnomalies = data ? data.series.map((s) => ({ s, a: data.anomalies.filter((a) => a.metric === s.name && a.labels === s.labels) })) : []
  withAnomalies.sort((x, y) => y.a.length - x.a.length || x.s.key.localeCompare(y.s.key))
  const scores = data && data.anomalies.length ? { data: [data.anomalies.map((a) => a.ts / 1000), data.anomalies.map((a) => a.score), data.anomalies.map((a) => a.threshold)], opts: { series: [{}, { label: 'score', stroke: '#b91c1c', width: 0, points: { show: true, size: 7, fill: '#b91c1c' } }, { label: 'threshold', stroke: '#6b7280', dash: [4, 4] }], axes: [{}, { size: 60 }] } } : null
  return html`<section>
    <${Heading}>Source ${source}<//>
    <label>Window <select value=${win} onChange=${(e) => setWin(e.target.value)}><option value="15">15 min</option><option value="30">30 min</option><option value="60">1 h</option><option value="360">6 h</option><option value="1440">1 day</option></select></label>
    <${Problem} text=${error} />
    ${data ? html`<p>${iso(data.from)} → ${iso(data.to)} (ending at the source's last fact), ${data.series.length} series averaged per ${data.stepMs / 1000} s, ${data.anomalies.length} anomalies.</p>
      ${scores ? html`<${Chart} title="anomaly scores and thresholds" opts=${scores.opts} data=${scores.data} />` : null}
      ${withAnomalies.map(({ s, a }) => {
        const c = seriesChart(s, a, data.stepMs)
        return html`<${Chart} key=${s.key} title=${`${s.key}${a.length ? ` — ${a.length} anomalies` : ''}`} opts=${c.opts} data=${c.data} />`
      })}
      <h2>Anomalies</h2>
      <ol class="feed">${data.anomalies.slice(-100).reverse().map((a) => html`<li key=${a.id}><time>${iso(a.ts).slice(11)}</time> <${Sev} s=${a.severity} /> <${FactLink} id=${a.id} /> ${a.explain}</li>`)}</ol>` : html`<p>Loading…</p>`}
  </section>`
}

// ---- approvals and facts -----------------------------------------------------------------

function ApprovalsPage({ session }) {
  const [tick, setTick] = useState(0)
  const { data, error } = useLoad(() => api('/api/approvals'), [tick], 5000)
  const [reasons, setReasons] = useState({})
  const [msg, setMsg] = useState('')
  const [err, setErr] = useState('')
  const decide = async (p, verdict) => {
    setErr('')
    setMsg('')
    try {
      const r = await api(`/api/approvals/${p.commandId}`, { method: 'POST', body: JSON.stringify({ verdict, reason: reasons[p.commandId] || '' }) })
      setMsg(`${verdict === 'approve' ? 'Approved' : 'Rejected'} ${r.verb} on ${r.target} (command ${short(r.commandId)}), signed by operator key ${r.keyId}.`)
      setTick((t) => t + 1)
    } catch (e) {
      setErr(e.message)
    }
  }
  const op = session.operator
  return html`<section>
    <${Heading}>Approvals<//>
    <p>${op.keyId ? html`Signing as operator key <code>${op.name}</code> (${op.keyId}); the key stays on the server.` : html`<span class="error">${op.error}</span>`}</p>
    <p role="status" class="ok">${msg}</p>
    <${Problem} text=${err || error} />
    ${!data ? html`<p>Loading…</p>` : data.length === 0 ? html`<p>No command is waiting for approval.</p>` : html`<ul class="cards">${data.map((p) => html`<li class="card proposal" key=${p.commandId}>
      <h2>${p.verb} on <${SourceLink} s=${p.target} /></h2>
      <p>command <code>${short(p.commandId)}</code>, proposed ${iso(p.ts)}, expires ${iso(p.expiresAt)}</p>
      <p><code>${p.args}</code></p>
      <p class="explain">${p.explain}</p>
      <p>decision <${FactLink} id=${p.decisionId} /></p>
      <div class="row">
        <button type="button" class="primary" onClick=${() => decide(p, 'approve')} disabled=${!op.keyId}>Approve</button>
        <label>Reason <input value=${reasons[p.commandId] || ''} onInput=${(e) => setReasons({ ...reasons, [p.commandId]: e.target.value })} placeholder="why reject" /></label>
        <button type="button" class="danger" onClick=${() => decide(p, 'reject')} disabled=${!op.keyId || !(reasons[p.commandId] || '').trim()}>Reject</button>
      </div>
    </li>`)}</ul>`}
  </section>`
}

function FactPage({ id }) {
  const { data, error } = useLoad(() => api(`/api/facts/${encodeURIComponent(id)}`), [id])
  if (!data) return html`<section><${Heading}>Fact ${short(id)}<//>${error ? html`<${Problem} text=${error} />` : html`<p>Loading…</p>`}</section>`
  const f = data.fact
  return html`<section>
    <${Heading}>${f.kind} ${short(f.id)}<//>
    <dl class="meta"><dt>id</dt><dd><code>${f.id}</code></dd><dt>time</dt><dd>${iso(f.ts)}</dd><dt>source</dt><dd><${SourceLink} s=${f.source} /></dd><dt>producer</dt><dd>${f.producer}</dd><dt>table</dt><dd>${data.table}</dd>
      ${f.kind === 'incident' ? html`<dt>incident</dt><dd><a href=${`#/incident/${f.payload.incidentId}`}>${short(f.payload.incidentId)}</a></dd>` : null}</dl>
    ${f.explain ? html`<p class="explain">${f.explain}</p>` : null}
    <h2>Lineage</h2>
    ${f.lineage.length ? html`<ul>${f.lineage.map((l) => html`<li><${FactLink} id=${l} /></li>`)}</ul>` : html`<p>none: a raw fact</p>`}
    <h2>Payload</h2>
    <pre>${JSON.stringify(f.payload, null, 2)}</pre>
  </section>`
}

// ---- shell -------------------------------------------------------------------------------

const NAV = [
  ['live', 'Live'],
  ['incidents', 'Incidents'],
  ['fleet', 'Fleet'],
  ['approvals', 'Approvals'],
]

function App() {
  const route = useRoute()
  const [session, setSession] = useState(null)
  const [error, setError] = useState('')
  useEffect(() => {
    api('/api/session').then((s) => {
      csrf = s.csrf
      setSession(s)
    }, (e) => setError(e.message))
  }, [])
  const logout = useCallback(async () => {
    await fetch('/logout', { method: 'POST', headers: { 'x-csrf-token': csrf } })
    location.href = '/'
  }, [])
  if (!session) return html`<main id="main"><${Problem} text=${error} />${error ? null : html`<p>Loading…</p>`}</main>`
  const [page, arg] = route
  const content =
    page === 'incident' ? html`<${IncidentPage} id=${arg} key=${arg} />` :
    page === 'incidents' ? html`<${IncidentsPage} />` :
    page === 'fleet' ? html`<${FleetPage} />` :
    page === 'source' ? html`<${SourcePage} source=${arg} key=${arg} />` :
    page === 'approvals' ? html`<${ApprovalsPage} session=${session} />` :
    page === 'fact' ? html`<${FactPage} id=${arg} key=${arg} />` :
    html`<${LivePage} />`
  const current = page === 'incident' ? 'incidents' : page === 'source' ? 'fleet' : page || 'live'
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus() }}>Skip to content</a>
    <header><span class="brand">Ben</span>
      <nav aria-label="main"><ul>${NAV.map(([k, label]) => html`<li><a href=${`#/${k}`} aria-current=${current === k ? 'page' : undefined}>${label}</a></li>`)}</ul></nav>
      <button type="button" class="link" onClick=${logout}>Log out</button>
    </header>
    <main id="main" tabindex="-1">${content}</main>`
}

render(html`<${App} />`, document.getElementById('app'))
