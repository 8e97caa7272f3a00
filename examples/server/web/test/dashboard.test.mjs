// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
// against the real server binary on loopback (`--demo`), and the server's vector tiles decoded
// by MapLibre's own decoder (@mapbox/vector-tile). Run by the README test command after the
// dashboard is built (`npm run build`) and the server binary too (`cargo test` builds it).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { VectorTile } from '@mapbox/vector-tile'
import { PbfReader as Pbf } from 'pbf'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..', '..')
const bin = process.env.LANDOPP_SERVER_BIN || join(root, 'target', 'debug', 'landopp-server')
const shots = join(here, '..', 'screenshots')
const browserPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
const CI = process.env.CI === 'true'

let server, base, dir, key
const t0 = Date.now()

before(async () => {
  assert.ok(existsSync(bin), `the server binary ${bin} is built (cargo build -p landopp-server)`)
  assert.ok(existsSync(join(here, '..', 'dist', 'index.html')), 'the dashboard is built (npm run build)')
  dir = mkdtempSync(join(tmpdir(), 'landopp-web-'))
  key = execFileSync(bin, ['--new-key']).toString().trim().split('\n').pop()
  server = spawn(bin, ['--demo', '--listen', '127.0.0.1:0', '--store', join(dir, 'store.db')], {
    env: { ...process.env, LANDOPP_BOOTSTRAP_ADMIN_KEY: key, LANDOPP_LOG: 'warn', LANDOPP_RATE_LIMIT: '0', LANDOPP_RATE_LIMIT_IP: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve)
    server.once('exit', (c) => reject(new Error(`server exited ${c}`)))
  })
  base = line.trim().split(' ').pop()
  for (const [name, role] of [['ana', 'analyst'], ['vic', 'viewer']]) {
    const r = await call('POST', '/v1/users', { username: name, password: `${name}-password-1`, role })
    assert.equal(r.status, 201, await r.text())
  }
})

after(() => {
  server?.kill('SIGTERM')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function call(method, path, body) {
  const headers = { 'X-API-Key': key }
  if (body) headers['Content-Type'] = 'application/json'
  return fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined })
}

// web mercator tile bounds and the inverse projection
const HALF = Math.PI * 6378137
function tileBounds(z, x, y) {
  const s = (2 * HALF) / 2 ** z
  return [-HALF + x * s, HALF - (y + 1) * s, -HALF + (x + 1) * s, HALF - y * s]
}

test('parcel tiles decode with MapLibre\'s decoder to the parcels under the tile, with their scores', async () => {
  const [z, x, y] = [13, 4427, 2918]
  const r = await call('GET', `/v1/tiles/parcels/${z}/${x}/${y}.mvt`)
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('content-type'), 'application/vnd.mapbox-vector-tile')
  const tile = new VectorTile(new Pbf(new Uint8Array(await r.arrayBuffer())))
  const layer = tile.layers.parcels
  assert.ok(layer, 'a parcels layer')
  assert.equal(layer.extent, 4096)
  const feats = Array.from({ length: layer.length }, (_, i) => layer.feature(i))
  assert.ok(feats.length > 50, `${feats.length} features`)
  // the ids are the parcels the search finds in the tile's box (EPSG:3857), every one of them
  const b = tileBounds(z, x, y)
  const page = await (await call('GET', `/v1/parcels/search?bbox=${b.join(',')}&crs=EPSG:3857&limit=1000&include_excluded=true&explain=false`)).json()
  const inTile = new Set(feats.map((f) => f.properties.id))
  const found = page.hits.map((h) => h.id)
  assert.ok(found.length > 50)
  for (const id of found) assert.ok(inTile.has(id), `parcel ${id} intersects the tile but is not in it`)
  // properties equal the parcel route's, and polygons are well formed (exterior rings clockwise)
  const profile = (await (await call('GET', '/v1/profiles')).json())[0]
  for (const f of feats.slice(0, 12)) {
    assert.equal(f.type, 3, 'polygon')
    const d = await (await call('GET', `/v1/parcels/${encodeURIComponent(f.properties.id)}`)).json()
    assert.equal(f.properties.score, d.score)
    assert.equal(f.properties.rank, d.rank)
    assert.equal(f.properties.excluded, d.excluded)
    for (const c of profile.criteria) {
      const v = d.features.find((x) => x.name === c.column)
      const want = v.label ?? v.value
      if (want !== null && want !== undefined) assert.equal(f.properties[c.column], want, c.column)
    }
    const rings = f.loadGeometry()
    assert.ok(rings.length >= 1 && rings[0].length >= 4)
    let a = 0
    const ring = rings[0]
    for (let i = 0; i < ring.length - 1; i++) a += ring[i].x * ring[i + 1].y - ring[i + 1].x * ring[i].y
    assert.ok(a > 0, 'the exterior ring has positive area in tile coordinates (MVT 2.1)')
  }
  // the geometry sits where the parcel is: the tile's GeoJSON of a feature wholly inside contains the parcel's search hit point
  const inside = feats.find((f) => f.loadGeometry()[0].every((p) => p.x > 0 && p.x < 4096 && p.y > 0 && p.y < 4096))
  const gj = inside.toGeoJSON(x, y, z)
  const ring = (gj.geometry.type === 'Polygon' ? gj.geometry.coordinates : gj.geometry.coordinates[0])[0]
  const lons = ring.map((p) => p[0]); const lats = ring.map((p) => p[1])
  const box = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)]
  const hit = await (await call('GET', `/v1/parcels/search?bbox=${box.join(',')}&crs=EPSG:4326&limit=1000&include_excluded=true&explain=false`)).json()
  assert.ok(hit.hits.some((h) => h.id === inside.properties.id), 'the feature\'s outline in WGS 84 finds its own parcel')
  // an empty tile is an empty body; a hillshade tile is a PNG
  assert.equal((await (await call('GET', '/v1/tiles/parcels/13/0/0.mvt')).arrayBuffer()).byteLength, 0)
  const png = await call('GET', `/v1/tiles/hillshade/${z}/${x}/${y}.png`)
  assert.equal(png.headers.get('content-type'), 'image/png')
  assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).slice(1, 4)], [0x50, 0x4e, 0x47])
})

async function browser() {
  if (!browserPath) {
    if (CI) assert.fail('CI=true but chromium (apt) is not installed')
    return null
  }
  return chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  })
}

async function login(page, user) {
  const t = Date.now()
  await page.goto(base + '/')
  await page.fill('#username', user)
  await page.fill('#password', `${user}-password-1`)
  await page.click('#login-btn')
  await page.waitForFunction(() => window.__landopp?.mapReady === true, null, { timeout: 30000 })
  return Date.now() - t
}

// distinct colours in the map canvas (a blank canvas has one)
const canvasColours = (page, sel = '#map canvas') => page.evaluate((s) => {
  const c = document.querySelector(s)
  const o = document.createElement('canvas'); o.width = 64; o.height = 64
  const g = o.getContext('2d'); g.drawImage(c, 0, 0, 64, 64)
  const d = g.getImageData(0, 0, 64, 64).data
  const seen = new Set()
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2])
  return seen.size
}, sel)

test('an analyst logs in, searches, reads an explanation, moves a weight, opens the analytics', async (t) => {
  const b = await browser()
  if (!b) return t.skip('chromium is not installed')
  mkdirSync(shots, { recursive: true })
  try {
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } })
    const errors = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()) })
    const failed = []
    page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`) })
    const paint = await login(page, 'ana')
    console.log(`# first meaningful paint (log in → map idle with tiles): ${paint} ms`)
    assert.ok(await canvasColours(page) > 8, 'the map canvas is not blank')
    // search the map view: ranked parcels in the list
    await page.click('#search-btn')
    await page.waitForFunction(() => document.querySelectorAll('#results li').length >= 5)
    const ranks = await page.$$eval('#results li .rank', (els) => els.map((e) => Number(e.textContent.slice(1))))
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), 'ranked best first')
    const before = await page.$$eval('#results li', (els) => els.map((e) => e.dataset.id))
    // a feature range filter ("slope ≤ 3°, at least 2 acres"): the search sends it, and every
    // hit listed has those features (read back from the parcel route)
    const unfiltered = await page.evaluate(() => window.__landopp.total)
    await page.click('#add-filter')
    await page.selectOption('#filter-rows .filter:nth-child(1) select', 'slope_mean')
    await page.fill('#filter-rows .filter:nth-child(1) .fmax', '3')
    await page.click('#add-filter')
    await page.selectOption('#filter-rows .filter:nth-child(2) select', 'area_acres')
    await page.fill('#filter-rows .filter:nth-child(2) .fmin', '2')
    const sent = page.waitForRequest((r) => r.url().endsWith('/v1/parcels/search') && r.method() === 'POST')
    const nf = await page.evaluate(() => window.__landopp.searches)
    await page.click('#search-btn')
    const body = JSON.parse((await sent).postData())
    assert.deepEqual(body.query.filters, [{ column: 'slope_mean', max: 3 }, { column: 'area_acres', min: 2 }])
    await page.waitForFunction((k) => window.__landopp.searches > k, nf)
    const filtered = await page.$$eval('#results li', (els) => els.map((e) => e.dataset.id))
    const total = await page.evaluate(() => window.__landopp.total)
    assert.ok(filtered.length > 0 && total < unfiltered, `filters narrow the search: ${unfiltered} → ${total}`)
    for (const id of filtered) {
      const d = await (await call('GET', `/v1/parcels/${encodeURIComponent(id)}`)).json()
      const f = Object.fromEntries(d.features.map((x) => [x.name, x.value]))
      assert.ok(f.slope_mean <= 3 && f.area_acres >= 2, `${id}: slope ${f.slope_mean}, ${f.area_acres} acres`)
    }
    // removed again: the search is the map view's as before
    await page.click('#filter-rows .filter:nth-child(2) .remove')
    await page.click('#filter-rows .filter:nth-child(1) .remove')
    const nr = await page.evaluate(() => window.__landopp.searches)
    await page.click('#search-btn')
    await page.waitForFunction((k) => window.__landopp.searches > k, nr)
    assert.deepEqual(await page.$$eval('#results li', (els) => els.map((e) => e.dataset.id)), before)
    // the GeoJSON export: every listed parcel with its whole outline (from the server, WGS 84)
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-geojson')])
    const fc = JSON.parse(readFileSync(await dl.path(), 'utf8'))
    assert.deepEqual(fc.features.map((f) => f.id), before)
    for (const f of fc.features) {
      assert.equal(f.geometry?.type, 'MultiPolygon', f.id)
      const [lon, lat] = f.geometry.coordinates[0][0][0]
      assert.ok(lon > 14.5 && lon < 14.6 && lat > 45.8 && lat < 45.9, `${f.id} in WGS 84: ${lon}, ${lat}`)
      assert.equal(typeof f.properties.score, 'number')
    }
    // the explanation: one bar per criterion, contributions summing to the score
    await page.click('#results li:first-child')
    await page.waitForSelector('#detail tr.contribution')
    const { sum, score, bars } = await page.evaluate(() => ({
      sum: [...document.querySelectorAll('#detail tr.contribution')].reduce((a, r) => a + Number(r.dataset.contribution), 0),
      score: Number(document.querySelector('#detail-score').dataset.score),
      bars: document.querySelectorAll('#detail tr.contribution').length,
    }))
    assert.ok(bars >= 2)
    assert.ok(Math.abs(sum - score) < 1e-9, `Σ contributions ${sum} = score ${score}`)
    await page.waitForSelector('#prediction')
    assert.match(await page.textContent('#stability'), /best [\d.]+, worst [\d.]+/)
    await page.screenshot({ path: join(shots, 'map.png') })
    // a printable report: the map as a PNG and the tables
    await page.click('#report-btn')
    const img = await page.getAttribute('#report-map', 'src')
    assert.ok(img.startsWith('data:image/png;base64,') && img.length > 5000, 'the report holds the map as PNG')
    assert.ok(await page.$$eval('#report-body table', (t) => t.length) >= 2)
    await page.screenshot({ path: join(shots, 'report.png'), fullPage: true })
    await page.click('#report-close')
    // move the largest weight to 0: the ranking changes (rescored on the server)
    const slider = await page.evaluate(() => {
      const els = [...document.querySelectorAll('#sliders input')]
      const top = els.reduce((a, e) => (Number(e.value) > Number(a.value) ? e : a))
      return top.id
    })
    const [searches, redraws] = await page.evaluate(() => [window.__landopp.searches, window.__landopp.redraws || 0])
    const tileAsks = []
    page.on('response', (r) => { if (r.url().includes('/v1/tiles/parcels/') && r.url().includes('weights=')) tileAsks.push(r.status()) })
    const t1 = Date.now()
    await page.evaluate((id) => { const el = document.getElementById(id); el.value = '0'; el.dispatchEvent(new Event('input')) }, slider)
    await page.waitForFunction((n) => window.__landopp.searches > n, searches)
    const after = await page.$$eval('#results li', (els) => els.map((e) => e.dataset.id))
    console.log(`# slider → reranked list: ${Date.now() - t1} ms (150 ms of it the slider's debounce)`)
    assert.notDeepEqual(after, before, 'moving a weight changes the ranking')
    assert.match(await page.textContent('#status'), /what-if/)
    // ... and the map: tiles of the what-if scores drawn
    await page.waitForFunction((n) => (window.__landopp.redraws || 0) > n, redraws)
    console.log(`# slider → map redrawn with what-if tiles: ${await page.evaluate(() => Math.round(window.__landopp.timing.redraw))} ms`)
    assert.ok(tileAsks.length > 0 && tileAsks.every((s) => s === 200), `what-if tiles: ${tileAsks}`)
    // leaving a constraint out: more parcels match (none excluded by it)
    const code = await page.getAttribute('#toggles input', 'data-code')
    if (code) {
      const n = await page.evaluate(() => window.__landopp.searches)
      await page.check('#include-excluded')
      await page.click('#search-btn')
      await page.waitForFunction((k) => window.__landopp.searches > k, n)
      const excludedBefore = await page.$$eval('#results li.excluded', (e) => e.length)
      const m = await page.evaluate(() => window.__landopp.searches)
      await page.uncheck(`#toggles input[data-code="${code}"]`)
      await page.waitForFunction((k) => window.__landopp.searches > k, m)
      const excludedAfter = await page.$$eval('#results li.excluded', (e) => e.length)
      assert.ok(excludedAfter <= excludedBefore, `${code} left out: ${excludedBefore} → ${excludedAfter} excluded`)
      await page.uncheck('#include-excluded')
    }
    // site assembly: adjacent parcels grouped, largest first
    await page.fill('#min-acres', '1')
    await page.click('#sites-btn')
    await page.waitForFunction(() => document.querySelectorAll('#sites li').length >= 1)
    assert.match(await page.textContent('#sites li:first-child'), /Site 1: \d+ parcels|no site/)
    // analytics: searches over time, score histogram, areas on a map
    await page.click('#tab-analytics')
    await page.waitForFunction(() => window.__landopp.analyticsReady === true)
    assert.ok(await page.$$eval('#chart-scores rect', (r) => r.length) >= 10, 'a score histogram')
    assert.ok(await page.$$eval('#chart-searches rect', (r) => r.length) >= 1, 'searches over time')
    assert.ok((await page.$$eval('#areas tr', (r) => r.length)) >= 2, 'popular areas')
    await page.waitForTimeout(500)
    await page.screenshot({ path: join(shots, 'analytics.png'), fullPage: true })
    assert.deepEqual(errors, [], 'no errors in the page')
    assert.deepEqual(failed, [], 'no request failed')
  } finally {
    await b.close()
  }
})

test('a viewer sees no what-if or analytics controls', async (t) => {
  const b = await browser()
  if (!b) return t.skip('chromium is not installed')
  try {
    const page = await b.newPage({ viewport: { width: 1200, height: 800 } })
    await login(page, 'vic')
    assert.equal(await page.isVisible('#whatif'), false)
    assert.equal(await page.isVisible('#tab-analytics'), false)
    assert.equal(await page.isVisible('#tab-admin'), false)
    await page.click('#search-btn')
    await page.waitForFunction(() => document.querySelectorAll('#results li').length >= 5)
    // a wrong password is refused in the form
    const p2 = await b.newPage()
    await p2.goto(base + '/')
    await p2.fill('#username', 'vic'); await p2.fill('#password', 'nope'); await p2.click('#login-btn')
    await p2.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0)
    assert.match(await p2.textContent('#login-error'), /Wrong user name or password/)
    // the admin key the demo prints logs in too, and shows the admin tab
    const p3 = await b.newPage({ viewport: { width: 1200, height: 800 } })
    await p3.goto(base + '/')
    await p3.click('#key-login summary')
    await p3.fill('#api-key', key)
    await p3.click('#key-btn')
    await p3.waitForFunction(() => window.__landopp?.mapReady === true, null, { timeout: 30000 })
    assert.equal(await p3.isVisible('#tab-admin'), true)
    await p3.click('#tab-admin')
    await p3.waitForFunction(() => document.querySelectorAll('#keys tr').length >= 2)
    assert.match(await p3.textContent('#users'), /ana/)
  } finally {
    await b.close()
  }
})

test('zoomed out, the map shows every parcel as score images, redrawn by a what-if; a click zooms in to the parcels', async (t) => {
  const b = await browser()
  if (!b) return t.skip('chromium is not installed')
  try {
    const page = await b.newPage({ viewport: { width: 1200, height: 800 } })
    const errors = []
    page.on('pageerror', (e) => errors.push(e.message))
    const tiles = []
    page.on('response', (r) => {
      const u = new URL(r.url())
      if (u.pathname.startsWith('/v1/tiles/')) tiles.push({ kind: u.pathname.split('/')[3], z: Number(u.pathname.split('/')[4]), status: r.status(), type: r.headers()['content-type'], whatIf: u.searchParams.has('weights') })
    })
    // the sample is small: its detail zoom is low, so the page asks for score images up to zoom 16
    await page.goto(base + '/?detail=16')
    await page.fill('#username', 'ana')
    await page.fill('#password', 'ana-password-1')
    await page.click('#login-btn')
    await page.waitForFunction(() => window.__landopp?.mapReady === true, null, { timeout: 30000 })
    assert.equal(await page.evaluate(() => window.__landopp.detailZoom), 16)
    const scores = tiles.filter((x) => x.kind === 'scores')
    assert.ok(scores.length > 0 && scores.every((x) => x.status === 200 && x.type === 'image/png'), JSON.stringify(scores))
    assert.ok(tiles.filter((x) => x.kind === 'parcels').every((x) => x.z >= 16), 'no vector tile below the detail zoom')
    assert.ok(await canvasColours(page) > 8, 'the map canvas is not blank')
    assert.match(await page.textContent('#legend'), /best score of the parcels under it/)
    // a weight moved: the score images of the what-if are drawn
    const redraws = await page.evaluate(() => window.__landopp.redraws || 0)
    const slider = await page.getAttribute('#sliders input', 'id')
    await page.evaluate((id) => { const el = document.getElementById(id); el.value = '0'; el.dispatchEvent(new Event('input')) }, slider)
    await page.waitForFunction((n) => (window.__landopp.redraws || 0) > n, redraws)
    assert.ok(tiles.some((x) => x.kind === 'scores' && x.whatIf && x.status === 200), 'what-if score images')
    console.log(`# overview: slider → score images redrawn: ${await page.evaluate(() => Math.round(window.__landopp.timing.redraw))} ms`)
    // a click on the overview zooms in to the detail zoom
    const box = await page.locator('#map canvas').boundingBox()
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
    await page.waitForFunction(() => window.__landopp.map.getZoom() >= 15.99, null, { timeout: 10000 })
    assert.deepEqual(errors, [])
  } finally {
    await b.close()
  }
})

test('timing', () => console.log(`# dashboard tests: ${Date.now() - t0} ms`))
