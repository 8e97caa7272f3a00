// The landopp dashboard: log in, see parcels on a map coloured by score over the server's
// hillshade, search an area, read each parcel's explanation, move weights (what-if), look at the
// analytics. Every number comes from the server's API; this file only draws.
import maplibregl from 'maplibre-gl'
import 'maplibre-gl/dist/maplibre-gl.css'
import { cellToBoundary } from 'h3-js'
import './app.css'

const $ = (s) => document.querySelector(s)
const ROLES = ['viewer', 'analyst', 'admin']
const RAMP = [0, '#440154', 0.25, '#3b528b', 0.5, '#21918c', 0.75, '#5ec962', 1, '#fde725']
const S = {
  token: sessionStorage.getItem('landopp.token'),
  key: sessionStorage.getItem('landopp.key'),
  role: null,
  user: null,
  land: null,
  profiles: [],
  profile: null,
  weights: {},
  without: [],
  hits: [],
  selected: null,
  map: null,
  timing: {},
}
// what the browser tests read (state, not behaviour)
window.__landopp = S

class ApiError extends Error {
  constructor(status, code, detail) {
    super(`${code}: ${detail}`)
    this.status = status
    this.code = code
  }
}

async function api(path, { method = 'GET', body, auth = true } = {}) {
  const headers = {}
  if (auth && S.token) headers.Authorization = `Bearer ${S.token}`
  else if (auth && S.key) headers['X-API-Key'] = S.key
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (r.status === 401 && auth && S.role) {
    logout('Your session ended: log in again.')
    throw new ApiError(401, 'UNAUTHENTICATED', 'session ended')
  }
  const ct = r.headers.get('content-type') || ''
  const data = ct.includes('json') ? await r.json() : await r.text()
  if (!r.ok) throw new ApiError(r.status, data.code || r.status, data.detail || r.statusText)
  return data
}

const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? '—' : typeof v === 'number' ? Number(v.toFixed(d)).toString() : esc(v))
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
// widths through the CSSOM (the page's CSP refuses style attributes in markup)
const widths = (el) => el.querySelectorAll('[data-w]').forEach((e) => { e.style.width = `${e.dataset.w}%` })
const can = (role) => ROLES.indexOf(S.role) >= ROLES.indexOf(role)

// the credentials' headers, for the map's tile requests too
const authHeaders = () => (S.token ? { Authorization: `Bearer ${S.token}` } : { 'X-API-Key': S.key })
const sameOrigin = (url) => (url.startsWith(location.origin) ? { url, headers: authHeaders() } : undefined)

// ---- log in / out --------------------------------------------------------------------------
$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  $('#login-error').textContent = ''
  try {
    const t = await api('/v1/auth/login', { method: 'POST', body: { username: $('#username').value, password: $('#password').value }, auth: false })
    S.token = t.access_token
    sessionStorage.setItem('landopp.token', S.token)
    await start()
  } catch (err) {
    $('#login-error').textContent = err.status === 401 ? 'Wrong user name or password.' : err.message
  }
})
$('#key-btn').addEventListener('click', async () => {
  $('#login-error').textContent = ''
  S.key = $('#api-key').value.trim()
  S.token = null
  try {
    await start()
    sessionStorage.setItem('landopp.key', S.key)
  } catch (err) {
    S.key = null
    $('#login-error').textContent = err.status === 401 ? 'That key is not valid.' : err.message
  }
})

function logout(message = '') {
  S.token = null
  S.key = null
  sessionStorage.removeItem('landopp.token')
  sessionStorage.removeItem('landopp.key')
  if (S.map) { S.map.remove(); S.map = null }
  $('#app-view').hidden = true
  $('#login-view').hidden = false
  $('#login-error').textContent = message
}
$('#logout').addEventListener('click', () => logout())

async function start() {
  S.timing.start = performance.now()
  const me = await api('/v1/me')
  S.role = me.role
  S.user = me.subject.replace(/^user:/, '')
  $('#who').textContent = `${S.user} (${S.role})`
  // the role decides what is shown (the server enforces it anyway)
  document.querySelectorAll('[data-role]').forEach((el) => { el.hidden = !can(el.dataset.role) })
  $('#login-view').hidden = true
  $('#app-view').hidden = false
  const [land, profiles] = await Promise.all([api('/v1/land'), api('/v1/profiles')])
  S.land = land
  S.profiles = profiles
  $('#profile').innerHTML = profiles.map((p) => `<option value="${esc(p.name)}">${esc(p.title || p.name)}</option>`).join('')
  S.profile = profiles[0]?.name
  sliders()
  initMap()
}

// ---- map -----------------------------------------------------------------------------------
const changed = () => can('analyst') && (Object.keys(S.weights).length > 0 || S.without.length > 0)

function tileUrl(kind, ext) {
  let q = ''
  if (kind === 'parcels' || kind === 'scores') {
    q = `?profile=${encodeURIComponent(S.profile)}`
    // a what-if recolours the map too: the server scores the change once for every tile
    if (changed()) {
      if (Object.keys(S.weights).length) q += `&weights=${encodeURIComponent(JSON.stringify(S.weights))}`
      if (S.without.length) q += `&without_constraints=${encodeURIComponent(S.without.join(','))}`
    }
  }
  return `${location.origin}/v1/tiles/${kind}/{z}/{x}/{y}.${ext}${q}`
}

function refreshTiles() {
  const map = S.map
  if (!map?.getSource('parcels')) return
  map.getSource('parcels').setTiles([tileUrl('parcels', 'mvt')])
  map.getSource('scores')?.setTiles([tileUrl('scores', 'png')])
  // the redraw is done when the new tiles are drawn
  map.once('idle', () => {
    S.timing.redraw = performance.now() - (S.timing.change ?? performance.now())
    S.redraws = (S.redraws || 0) + 1
  })
}

function initMap() {
  const b = S.land.bounds || [-180, -60, 180, 75]
  // below the detail zoom a vector tile would hold too many parcels to draw at once: the server
  // paints them as score images instead (every parcel, the best score where they share a pixel)
  // (`?detail=Z` in the page's address sets that zoom instead: 0 draws vector tiles everywhere)
  const asked = new URLSearchParams(location.search).get('detail')
  const dz = Math.max(0, Math.min(asked !== null && asked !== '' && Number.isFinite(Number(asked)) ? Math.round(Number(asked)) : S.land.detail_zoom || 0, 16))
  S.detailZoom = dz
  const sources = {
    parcels: { type: 'vector', tiles: [tileUrl('parcels', 'mvt')], minzoom: dz, maxzoom: 16, promoteId: 'id' },
    aoi: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    areas: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
  }
  const layers = [{ id: 'bg', type: 'background', paint: { 'background-color': '#ece8df' } }]
  if (S.land.hillshade) {
    sources.hillshade = { type: 'raster', tiles: [tileUrl('hillshade', 'png')], tileSize: 256, maxzoom: 16 }
    layers.push({ id: 'hillshade', type: 'raster', source: 'hillshade', paint: { 'raster-opacity': 0.55 } })
  }
  if (dz > 0) {
    sources.scores = { type: 'raster', tiles: [tileUrl('scores', 'png')], tileSize: 256, maxzoom: dz - 1 }
    layers.push({ id: 'scores', type: 'raster', source: 'scores', maxzoom: dz, paint: { 'raster-resampling': 'nearest', 'raster-fade-duration': 0 } })
  }
  layers.push(
    {
      id: 'parcels-fill', type: 'fill', source: 'parcels', 'source-layer': 'parcels', minzoom: dz,
      paint: {
        'fill-color': ['case', ['get', 'excluded'], '#9e9e9e', ['interpolate', ['linear'], ['get', 'score'], ...RAMP]],
        'fill-opacity': ['case', ['boolean', ['feature-state', 'hit'], false], 0.9, 0.6],
      },
    },
    { id: 'parcels-line', type: 'line', source: 'parcels', 'source-layer': 'parcels', minzoom: dz, paint: { 'line-color': '#333', 'line-width': 0.4, 'line-opacity': 0.6 } },
    {
      id: 'parcels-selected', type: 'line', source: 'parcels', 'source-layer': 'parcels', minzoom: dz,
      filter: ['==', ['get', 'id'], ''], paint: { 'line-color': '#e4572e', 'line-width': 3 },
    },
    { id: 'aoi', type: 'line', source: 'aoi', paint: { 'line-color': '#e4572e', 'line-width': 2, 'line-dasharray': [2, 1] } },
    { id: 'areas', type: 'fill', source: 'areas', paint: { 'fill-color': '#e4572e', 'fill-opacity': ['interpolate', ['linear'], ['get', 'share'], 0, 0.1, 1, 0.6] } },
  )
  const map = new maplibregl.Map({
    container: 'map',
    style: { version: 8, sources, layers },
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 30 },
    attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true },
    preserveDrawingBuffer: true,
    transformRequest: sameOrigin,
  })
  S.map = map
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right')
  map.addControl(new maplibregl.ScaleControl())
  map.on('load', () => { setBboxFromView() })
  map.once('idle', () => { S.timing.firstIdle = performance.now() - S.timing.start; S.mapReady = true })
  map.on('click', 'parcels-fill', (e) => { const f = e.features?.[0]; if (f) select(f.properties.id) })
  // in the overview a click zooms in to where parcels can be picked
  map.on('click', (e) => { if (dz > 0 && map.getZoom() < dz && !S.drawing) map.easeTo({ center: e.lngLat, zoom: dz, duration: 400 }) })
  map.on('mouseenter', 'parcels-fill', () => { map.getCanvas().style.cursor = 'pointer' })
  map.on('mouseleave', 'parcels-fill', () => { map.getCanvas().style.cursor = '' })
  legend()
}

function legend() {
  const stops = RAMP.filter((_, i) => i % 2 === 1)
  $('#legend').innerHTML = `<div><strong>Score</strong> (${esc(S.profile || '')})</div>
    <div class="ramp"></div>
    <div class="ramp-labels"><span>0</span><span>0.5</span><span>1</span></div>
    <div><span class="swatch"></span> excluded by a constraint</div>
    ${S.detailZoom ? '<div class="hint">Zoomed out, a pixel shows the best score of the parcels under it; zoom in or click to pick parcels.</div>' : ''}`
  $('#legend .ramp').style.background = `linear-gradient(to right, ${stops.join(',')})`
}

function setBboxFromView() {
  const b = S.map.getBounds()
  $('#bbox').value = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',')
}
$('#use-view').addEventListener('click', () => setBboxFromView())

// draw a rectangle: press, drag, release
$('#draw').addEventListener('click', () => {
  const map = S.map
  S.drawing = true
  map.dragPan.disable()
  map.getCanvas().style.cursor = 'crosshair'
  $('#status').textContent = 'Drag on the map to draw the area.'
  let start = null
  const box = (a, b) => [Math.min(a.lng, b.lng), Math.min(a.lat, b.lat), Math.max(a.lng, b.lng), Math.max(a.lat, b.lat)]
  const show = (r) => map.getSource('aoi').setData({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]], [r[0], r[1]]]] } })
  const down = (e) => { start = e.lngLat }
  const move = (e) => { if (start) show(box(start, e.lngLat)) }
  const up = (e) => {
    if (!start) return
    const r = box(start, e.lngLat)
    $('#bbox').value = r.map((v) => v.toFixed(5)).join(',')
    map.off('mousedown', down); map.off('mousemove', move); map.off('mouseup', up)
    map.dragPan.enable()
    map.getCanvas().style.cursor = ''
    $('#status').textContent = ''
    // the click that ends the drag is not an overview click
    setTimeout(() => { S.drawing = false }, 0)
    search()
  }
  map.on('mousedown', down); map.on('mousemove', move); map.on('mouseup', up)
})

$('#profile').addEventListener('change', () => {
  S.profile = $('#profile').value
  S.weights = {}
  S.without = []
  sliders()
  refreshTiles()
  legend()
  search()
})

// ---- what-if weights -----------------------------------------------------------------------
function sliders() {
  const p = S.profiles.find((x) => x.name === S.profile)
  if (!p) return
  $('#sliders').innerHTML = p.criteria.map((c, i) => `<label class="slider">${esc(c.name)}
      <input type="range" min="0" max="1" step="0.01" value="${c.weight}" data-criterion="${esc(c.name)}" id="w-${i}">
      <output>${fmt(c.weight, 2)}</output></label>`).join('')
  $('#toggles').innerHTML = p.constraint_codes.map((c) => `<label class="check"><input type="checkbox" checked data-code="${esc(c)}"> apply ${esc(c)}</label>`).join('')
  let timer = null
  const rescore = () => { clearTimeout(timer); timer = setTimeout(() => { S.timing.change = performance.now(); search(); refreshTiles() }, 150) }
  $('#sliders').querySelectorAll('input').forEach((el) => el.addEventListener('input', () => {
    el.nextElementSibling.textContent = fmt(Number(el.value), 2)
    S.weights[el.dataset.criterion] = Number(el.value)
    rescore()
  }))
  $('#toggles').querySelectorAll('input').forEach((el) => el.addEventListener('change', () => {
    S.without = [...$('#toggles').querySelectorAll('input:not(:checked)')].map((x) => x.dataset.code)
    rescore()
  }))
}
$('#reset-weights').addEventListener('click', () => { S.weights = {}; S.without = []; sliders(); search(); refreshTiles() })

// ---- search ----------------------------------------------------------------------------------
$('#search-form').addEventListener('submit', (e) => { e.preventDefault(); search() })

// feature range filters: one row per numeric column of the served features (min and/or max, in
// the column's unit), sent as the API's filters beside the minimum score
function addFilterRow(column) {
  const cols = S.land.columns.filter((c) => !c.categorical)
  const row = document.createElement('div')
  row.className = 'row filter'
  row.innerHTML = `<select aria-label="column">${cols.map((c) => `<option value="${esc(c.name)}">${esc(c.name)}${c.unit ? ` (${esc(c.unit)})` : ''}</option>`).join('')}</select>
    <input class="fmin" type="number" step="any" placeholder="min" aria-label="minimum">
    <input class="fmax" type="number" step="any" placeholder="max" aria-label="maximum">
    <button type="button" class="remove" title="remove this filter">×</button>`
  if (column) row.querySelector('select').value = column
  row.querySelector('.remove').addEventListener('click', () => row.remove())
  $('#filter-rows').append(row)
  return row
}
$('#add-filter').addEventListener('click', () => addFilterRow())

function queryFilters() {
  const out = []
  const min = Number($('#min-score').value)
  if (min > 0) out.push({ column: 'score', min })
  for (const row of $('#filter-rows').querySelectorAll('.filter')) {
    const f = { column: row.querySelector('select').value }
    const lo = row.querySelector('.fmin').value.trim()
    const hi = row.querySelector('.fmax').value.trim()
    if (lo !== '' && Number.isFinite(Number(lo))) f.min = Number(lo)
    if (hi !== '' && Number.isFinite(Number(hi))) f.max = Number(hi)
    if ('min' in f || 'max' in f) out.push(f)
  }
  return out
}

let searchSeq = 0
async function search() {
  const bbox = $('#bbox').value.split(',').map(Number)
  if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v))) {
    $('#status').textContent = 'Give the area as west,south,east,north (degrees), or use the map view.'
    return
  }
  const seq = ++searchSeq
  const t0 = performance.now()
  const query = { aoi: { bbox }, crs: 'EPSG:4326', limit: Number($('#limit').value) || 20, include_excluded: $('#include-excluded').checked }
  const filters = queryFilters()
  if (filters.length) query.filters = filters
  const body = { query, profile: S.profile }
  if (changed()) {
    if (Object.keys(S.weights).length) body.weights = S.weights
    if (S.without.length) body.without_constraints = S.without
  }
  $('#status').textContent = 'Searching…'
  try {
    const page = await api('/v1/parcels/search', { method: 'POST', body })
    if (seq !== searchSeq) return
    S.hits = page.hits
    S.total = page.total
    S.timing.search = performance.now() - t0
    render(page)
    S.searches = (S.searches || 0) + 1
  } catch (err) {
    if (seq === searchSeq) $('#status').textContent = err.message
  }
}

function render(page) {
  const ws = changed() ? ' (what-if)' : ''
  $('#status').textContent = `${page.total} parcels match; top ${page.hits.length}${ws}`
  $('#results').innerHTML = page.hits.map((h) => `<li data-id="${esc(h.id)}" class="${h.excluded ? 'excluded' : ''}">
      <span class="rank">#${fmt(h.rank, 1)}</span> <span class="pid">${esc(h.id)}</span>
      <span class="bar"><i data-w="${Math.max(0, Math.min(1, h.score || 0)) * 100}"></i></span>
      <span class="score">${fmt(h.score)}</span></li>`).join('')
  widths($('#results'))
  $('#results').querySelectorAll('li').forEach((li) => li.addEventListener('click', () => select(li.dataset.id, true)))
  $('#export-csv').disabled = $('#export-geojson').disabled = page.hits.length === 0
  // highlight the hits on the map
  const map = S.map
  map.removeFeatureState({ source: 'parcels', sourceLayer: 'parcels' })
  for (const h of page.hits) map.setFeatureState({ source: 'parcels', sourceLayer: 'parcels', id: h.id }, { hit: true })
  S.timing.render = performance.now()
}

// ---- one parcel ------------------------------------------------------------------------------
async function select(id, fly = false) {
  S.selected = id
  S.map.setFilter('parcels-selected', ['==', ['get', 'id'], id])
  document.querySelectorAll('#results li').forEach((li) => li.classList.toggle('selected', li.dataset.id === id))
  const q = `?profile=${encodeURIComponent(S.profile)}`
  const [d, pred, stab] = await Promise.all([
    api(`/v1/parcels/${encodeURIComponent(id)}${q}`),
    api('/v1/models/predict', { method: 'POST', body: { parcel_ids: [id], explain: true } }).catch(() => null),
    api(`/v1/parcels/${encodeURIComponent(id)}/stability${q}`).catch(() => null),
  ])
  const hit = S.hits.find((h) => h.id === id)
  // a what-if search explains with its own weights: show that explanation when there is one
  const ex = hit && changed() ? hit.explanation : d.explanation
  const score = hit && changed() ? hit.score : d.score
  // what the panel and the report show: the what-if's answer when there is one
  const shown = hit && changed()
    ? { ...d, score, rank: hit.rank, excluded: hit.excluded, reasons: hit.reasons }
    : d
  const sum = ex.reduce((a, c) => a + (Number.isFinite(c.contribution) ? c.contribution : 0), 0)
  const maxC = Math.max(1e-9, ...ex.map((c) => Math.abs(c.contribution || 0)))
  const bars = ex.map((c) => `<tr class="contribution" data-contribution="${c.contribution}">
      <td>${esc(c.criterion)}</td><td>${c.label ? esc(c.label) : fmt(c.raw)}</td><td>${fmt(c.transformed)}</td><td>${fmt(c.weight)}</td>
      <td class="cbar"><i data-w="${(Math.abs(c.contribution || 0) / maxC) * 100}"></i><span>${fmt(c.contribution)}</span></td></tr>`).join('')
  const feats = d.features.map((f) => `<tr><td>${esc(f.name)}</td><td>${f.label ? esc(f.label) : fmt(f.value)}</td><td>${esc(f.unit)}</td><td title="${esc(f.method)}">${esc(f.source)}</td></tr>`).join('')
  let ml = ''
  if (pred && pred[0]) {
    const p = pred[0]
    const values = p.outputs.map((o, i) => `${esc(o)} <strong>${fmt(p.values[i])}</strong>`).join(' · ')
    const contrib = (p.contributions || [])
      .slice().sort((a, b) => Math.abs(b.contribution[0]) - Math.abs(a.contribution[0])).slice(0, 8)
      .map((c) => `<tr><td>${esc(c.feature)}</td><td>${fmt(c.value)}</td><td>${fmt(c.contribution[0], 4)}</td></tr>`).join('')
    ml = `<h3>Model ${esc(p.model_version)}</h3><p id="prediction">${values}</p>
      ${contrib ? `<table><tr><th>feature</th><th>value</th><th>contribution</th></tr>${contrib}</table>` : ''}`
  }
  $('#detail').hidden = false
  $('#detail').innerHTML = `<button class="close" aria-label="close">×</button>
    <h2>Parcel ${esc(d.id)}</h2>
    <p>Score <strong id="detail-score" data-score="${score}">${fmt(score)}</strong> · rank ${fmt(shown.rank, 1)}
      ${shown.excluded ? `· <span class="excluded">excluded: ${shown.reasons.map(esc).join(', ')}</span>` : ''}</p>
    <h3>Why (${esc(d.profile)})</h3>
    <table class="explain"><tr><th>criterion</th><th>raw</th><th>transformed</th><th>weight</th><th>contribution</th></tr>${bars}</table>
    <p class="sum">Σ contributions = <span id="contribution-sum">${fmt(sum, 4)}</span></p>
    ${stab ? `<p id="stability">Rank sensitivity (each weight ±20 % in turn): best ${fmt(stab.best_rank, 1)}, worst ${fmt(stab.worst_rank, 1)}; in the top 10 in ${fmt(stab.p_top_k * 100, 0)} % of the runs</p>` : ''}
    <p class="no-print"><button type="button" id="report-btn">Printable report</button></p>
    ${ml}
    <h3>Features</h3><table class="features"><tr><th>feature</th><th>value</th><th>unit</th><th>source</th></tr>${feats}</table>`
  widths($('#detail'))
  $('#detail .close').addEventListener('click', () => { $('#detail').hidden = true })
  $('#report-btn').addEventListener('click', () => report(shown))
  if (fly) {
    const f = S.map.querySourceFeatures('parcels', { sourceLayer: 'parcels', filter: ['==', ['get', 'id'], id] })[0]
    if (f) {
      const pts = f.geometry.coordinates.flat(3)
      const xs = []; const ys = []
      for (let i = 0; i < pts.length; i += 2) { xs.push(pts[i]); ys.push(pts[i + 1]) }
      if (xs.length) S.map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]], { padding: 120, maxZoom: 17, duration: 300 })
    }
  }
}

// ---- a parcel's printable report: the map as PNG and the panel's tables -----------------------
function report(d) {
  const png = S.map.getCanvas().toDataURL('image/png')
  // (style attributes dropped: the CSP refuses them in markup; widths() sets them again)
  const tables = [...$('#detail').querySelectorAll('table')].map((t) => t.outerHTML.replace(/ style="[^"]*"/g, '')).join('')
  $('#report-body').innerHTML = `<h1>Parcel ${esc(d.id)}</h1>
    <p>Profile ${esc(d.profile)}${changed() ? ' (what-if)' : ''} · score ${fmt(d.score)} · rank ${fmt(d.rank, 1)}${d.excluded ? ` · excluded: ${d.reasons.map(esc).join(', ')}` : ''}</p>
    <img id="report-map" alt="map of parcel ${esc(d.id)}" src="${png}">
    ${tables}
    <p class="small">landopp · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · scores and features from the server's data version ${S.land.data_version}</p>`
  widths($('#report-body'))
  $('#report').hidden = false
}
$('#report-print').addEventListener('click', () => window.print())
$('#report-close').addEventListener('click', () => { $('#report').hidden = true })

// ---- site assembly: adjacent matching parcels grouped ---------------------------------------------
$('#sites-btn').addEventListener('click', async () => {
  const bbox = $('#bbox').value.split(',').map(Number)
  if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v))) return
  const query = { aoi: { bbox }, crs: 'EPSG:4326', include_excluded: false }
  const filters = queryFilters()
  if (filters.length) query.filters = filters
  try {
    const sites = await api('/v1/sites', { method: 'POST', body: { query, profile: S.profile, tolerance_m: 1, min_acres: Number($('#min-acres').value) || 0 } })
    S.sites = sites
    $('#sites').innerHTML = sites.slice(0, 20).map((s, i) => `<li data-i="${i}">Site ${i + 1}: ${s.parcel_ids.length} parcels, ${fmt(s.acres, 1)} acres, score ${fmt(s.score)}</li>`).join('') || '<li>no site that large here</li>'
    $('#sites').querySelectorAll('li[data-i]').forEach((li) => li.addEventListener('click', () => {
      const s = S.sites[Number(li.dataset.i)]
      S.map.removeFeatureState({ source: 'parcels', sourceLayer: 'parcels' })
      for (const id of s.parcel_ids) S.map.setFeatureState({ source: 'parcels', sourceLayer: 'parcels', id }, { hit: true })
      S.map.setFilter('parcels-selected', ['in', ['get', 'id'], ['literal', s.parcel_ids]])
      document.querySelectorAll('#sites li').forEach((x) => x.classList.toggle('selected', x === li))
    }))
  } catch (err) {
    $('#status').textContent = err.message
  }
})

// ---- export ------------------------------------------------------------------------------------
function download(name, type, text) {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(new Blob([text], { type }))
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 1000)
}
$('#export-csv').addEventListener('click', () => {
  const crit = S.hits[0]?.explanation.map((c) => c.criterion) || []
  const q = (s) => `"${String(s).replace(/"/g, '""')}"`
  const rows = [['id', 'rank', 'score', 'excluded', 'reasons', ...crit.map((c) => `contribution_${c}`)].map(q).join(',')]
  for (const h of S.hits) rows.push([q(h.id), h.rank, h.score, h.excluded, q(h.reasons.join(';')), ...h.explanation.map((c) => c.contribution)].join(','))
  download('landopp-results.csv', 'text/csv', rows.join('\n') + '\n')
})
$('#export-geojson').addEventListener('click', async () => {
  // every hit's whole outline from the server (WGS 84, not the tiles' clipped copies), with the
  // scores the list shows (what-if ones included)
  try {
    const fc = await api('/v1/parcels/geojson', { method: 'POST', body: { ids: S.hits.map((h) => h.id), profile: S.profile } })
    const byId = new Map(S.hits.map((h) => [h.id, h]))
    for (const f of fc.features) {
      const h = byId.get(f.id)
      f.properties = { id: h.id, rank: h.rank, score: h.score, excluded: h.excluded, reasons: h.reasons, what_if: changed() }
    }
    download('landopp-results.geojson', 'application/geo+json', JSON.stringify(fc))
  } catch (err) {
    $('#status').textContent = err.message
  }
})

// ---- tabs --------------------------------------------------------------------------------------
document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => {
  document.querySelectorAll('.tab').forEach((x) => x.classList.toggle('active', x === t))
  document.querySelectorAll('.tab-body').forEach((b) => { b.hidden = b.id !== t.dataset.tab })
  if (t.dataset.tab === 'analytics-tab') analytics()
  if (t.dataset.tab === 'admin-tab') admin()
  if (t.dataset.tab === 'map-tab' && S.map) S.map.resize()
}))

function barChart(el, values, labels, { height = 140 } = {}) {
  const w = 460; const max = Math.max(1, ...values); const bw = w / Math.max(1, values.length)
  const rects = values.map((v, i) => `<rect x="${i * bw + 1}" y="${height - (v / max) * (height - 14)}" width="${Math.max(1, bw - 2)}" height="${(v / max) * (height - 14)}"><title>${esc(labels[i])}: ${v}</title></rect>`).join('')
  el.innerHTML = `<svg viewBox="0 0 ${w} ${height + 16}" role="img"><g class="bars">${rects}</g>
    <text x="0" y="${height + 14}">${esc(labels[0] ?? '')}</text><text x="${w}" y="${height + 14}" text-anchor="end">${esc(labels[labels.length - 1] ?? '')}</text></svg>`
}

function table(el, head, rows) {
  el.innerHTML = `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>` + (rows.length ? rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') : `<tr><td colspan="${head.length}">none yet</td></tr>`)
}

let areasMap = null
async function analytics() {
  const q = `?profile=${encodeURIComponent(S.profile)}`
  const [searches, scores, areas, usage, accuracy, drift] = await Promise.all([
    api('/v1/analytics/searches?days=7'),
    api(`/v1/analytics/scores${q}&bins=20`),
    api('/v1/analytics/areas?days=7&resolution=7'),
    api('/v1/analytics/models?days=7'),
    api('/v1/analytics/accuracy').catch((e) => ({ error: e.message })),
    api('/v1/models/drift').catch((e) => ({ error: e.message })),
  ])
  barChart($('#chart-searches'), searches.map((s) => s.count), searches.map((s) => new Date(s.hour * 1000).toISOString().slice(5, 13).replace('T', ' ') + 'h'))
  const counts = scores.counts
  const edges = scores.edges
  barChart($('#chart-scores'), counts, counts.map((_, i) => `${fmt(edges[i], 2)}–${fmt(edges[i + 1] ?? 1, 2)}`))
  table($('#areas'), ['H3 cell', 'searches'], areas.slice(0, 10).map((a) => [a.cell, a.count]))
  table($('#model-usage'), ['version', 'requests', 'parcels'], usage.map((u) => [u.model_version, u.requests, u.parcels]))
  table($('#accuracy'), ['measure', 'value'], accuracy.error ? [['—', accuracy.error]]
    : [['model', accuracy.model_version], ['parcels with outcomes', accuracy.n], ...Object.entries(accuracy.metrics).map(([k, v]) => [k, fmt(v, 4)])])
  table($('#drift'), ['feature', 'PSI', 'KS', 'status'], drift.error ? [['—', drift.error, '', '']]
    : drift.columns.map((f) => [f.name, fmt(f.psi, 3), fmt(f.ks, 3), f.drifted ? 'drifted' : 'stable']))
  // popular areas as H3 hexagons on a small map
  const max = Math.max(1, ...areas.map((a) => a.count))
  const fc = { type: 'FeatureCollection', features: areas.map((a) => ({ type: 'Feature', properties: { count: a.count, share: a.count / max }, geometry: { type: 'Polygon', coordinates: [cellToBoundary(a.cell, true)] } })) }
  if (!areasMap) {
    const b = S.land.bounds || [-180, -60, 180, 75]
    areasMap = new maplibregl.Map({
      container: 'areas-map',
      style: { version: 8, sources: { ...S.map.getStyle().sources, areas: { type: 'geojson', data: fc } }, layers: S.map.getStyle().layers.filter((l) => ['bg', 'hillshade', 'parcels-line'].includes(l.id)).concat([{ id: 'areas', type: 'fill', source: 'areas', paint: { 'fill-color': '#e4572e', 'fill-opacity': ['interpolate', ['linear'], ['get', 'share'], 0, 0.15, 1, 0.7] } }]) },
      bounds: [[b[0], b[1]], [b[2], b[3]]],
      attributionControl: false,
      canvasContextAttributes: { preserveDrawingBuffer: true },
      transformRequest: sameOrigin,
    })
  } else {
    areasMap.getSource('areas')?.setData(fc)
    areasMap.resize()
  }
  S.analyticsReady = true
}

async function admin() {
  const [keys, users] = await Promise.all([api('/v1/keys'), api('/v1/users')])
  const day = (t) => (t ? new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ') : '')
  table($('#keys'), ['id', 'role', 'label', 'created', 'expires', 'revoked'], keys.map((k) => [k.id, k.role, k.label, day(k.created_at), day(k.expires_at), day(k.revoked_at)]))
  table($('#users'), ['name', 'role', 'created'], users.map((u) => [u.name, u.role, day(u.created_at)]))
}

if (S.token || S.key) start().catch(() => logout())
