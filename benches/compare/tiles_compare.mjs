// Map tiles side by side on 1,064,300 real parcels (Bangor's, replicated ×100; the inputs
// `LANDOPP_BENCH_INPUTS_ONLY=1 node benches/compare/server_compare.mjs ../shared/data` writes):
//   - parcel vector tiles: landopp-server `/v1/tiles/parcels/{z}/{x}/{y}.mvt` (over HTTP, keep-alive)
//     against PostGIS `ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y),
//     4096, 64))` of the same parcels with the same properties (id, score, rank, excluded, the ten
//     features as JSONB), imported by `landopp-server import` (GIST index), timed by psql's
//     \timing in one session with a prepared statement — the same work on both sides: select the
//     parcels under the tile (at most the 5,000 largest, as landopp's tiles), reproject, clip,
//     quantise, encode;
//   - hillshade tiles `/v1/tiles/hillshade/...` from Bangor's 10 m DEM (no reference: gdalwarp +
//     gdaldem per tile is a process per tile);
//   - the dashboard in headless chromium on the 1 M parcels: first meaningful paint (API key in →
//     map idle with tiles) and a weight slider moved → list re-ranked and map redrawn.
//   - score PNG tiles `/v1/tiles/scores/...` at z10 (the dashboard's overview below its detail
//     zoom; no reference: PostGIS has no raster tile of polygons);
// Interleaved runs (landopp pass, PostGIS pass), median of the runs' p50 / p95.
// Usage: node benches/compare/tiles_compare.mjs INPUTS_DIR [RUNS=5]
// (LANDOPP_BENCH_ONLY=browser: the score tiles and the browser figures only, without PostGIS)
// Needs: release build (cargo build --release -p landopp-server), local PostgreSQL 15 + PostGIS
// (run as root: databases are made as postgres), the dashboard built (examples/server/web:
// npm ci && npm run build) and Debian's chromium for the browser figures.
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import http from 'node:http'
import { median, pct, now, waitReady } from './bench_http.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const inputs = process.argv[2]
const RUNS = Number(process.argv[3] ?? 5)
if (!inputs) { console.error('usage: tiles_compare.mjs INPUTS_DIR [RUNS]'); process.exit(2) }
const bin = join(root, 'target', 'release', 'landopp-server')
const dem = join(root, '..', 'shared', 'data', 'bangor_me', 'dem_tin_from_spot_elevations_10m_DERIVED.tif')
const KEY = execFileSync(bin, ['--new-key']).toString().trim().split('\n').pop()
const td = mkdtempSync(join(tmpdir(), 'landopp-tiles-bench-'))
const PORT = 18900
const cols = readFileSync(join(inputs, 'columns.txt'), 'utf8').trim().split('\n')
const psql = (db, args, input) => execFileSync('su', ['postgres', '-c', `psql -qAt -d ${db} ${args}`], { input, maxBuffer: 1 << 30 }).toString()
const procs = []

// keep-alive GET returning the body's size
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
function fetchTile(path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, path, agent, headers: { 'x-api-key': KEY } }, (res) => {
      let n = 0
      res.on('data', (d) => { n += d.length })
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${path}: ${res.statusCode}`))))
    })
    req.on('error', reject)
    req.end()
  })
}

const HALF = Math.PI * 6378137
function tileOf(lon, lat, z) {
  const x = (lon * Math.PI) / 180 * 6378137
  const y = Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) * 6378137
  const s = (2 * HALF) / 2 ** z
  return [z, Math.floor((x + HALF) / s), Math.floor((HALF - y) / s)]
}
function rng(seed) {
  let s = BigInt(seed)
  return () => { s = (s * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n; return Number(s >> 11n) / 2 ** 53 }
}

const rows = []
try {
  // --- landopp-server on the parcels (features as attributes, the profile, the DEM) -----------
  const cfg = join(td, 'server.toml')
  writeFileSync(cfg, `listen = "127.0.0.1:${PORT}"\nstore = "${join(td, 'store.db')}"\n[data]\nparcels = "${join(inputs, 'parcels_x100.gpkg')}"\nid_field = "pid"\nattributes = [${cols.map((c) => `"${c}"`).join(', ')}]\nprofiles = ["${join(inputs, 'profile.json')}"]\ndem = "${dem}"\n[limits]\nrate_per_key = 0.0\nrate_per_ip = 0.0\n`)
  const srv = spawn(bin, ['--config', cfg], { env: { ...process.env, LANDOPP_BOOTSTRAP_ADMIN_KEY: KEY, LANDOPP_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] })
  procs.push(srv)
  await waitReady(PORT, '/readyz', {}, srv)
  const land = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: PORT, path: '/v1/land', headers: { 'x-api-key': KEY } }, (r) => { let b = ''; r.on('data', (d) => { b += d }); r.on('end', () => resolve(JSON.parse(b))) }))
  const profile = JSON.parse(readFileSync(join(inputs, 'profile.json'), 'utf8'))
  const profileName = 'profile'

  // --- the same parcels, features and scores in PostGIS ------------------------------------------
  // (LANDOPP_BENCH_REUSE_DB=1: keep the bench_tiles database of an earlier run)
  const browserOnly = process.env.LANDOPP_BENCH_ONLY === 'browser'
  const reuse = process.env.LANDOPP_BENCH_REUSE_DB === '1' && psql('postgres', `-c "SELECT 1 FROM pg_database WHERE datname = 'bench_tiles'"`).includes('1')
  if (!reuse && !browserOnly) {
    psql('postgres', `-c "SELECT 1"`)
    execFileSync('su', ['postgres', '-c', `psql -qc "DROP DATABASE IF EXISTS bench_tiles WITH (FORCE)" -c "CREATE DATABASE bench_tiles"`])
    psql('bench_tiles', '-c "CREATE EXTENSION postgis"')
    // the role pg_import_compare.sh uses (the inputs folder is private to this user: not postgres')
    if (!psql('postgres', `-c "SELECT 1 FROM pg_roles WHERE rolname = 'landopp_bench'"`).includes('1')) {
      psql('postgres', `-c "CREATE ROLE landopp_bench LOGIN SUPERUSER PASSWORD 'landopp_bench'"`)
    }
    const url = 'postgres://landopp_bench:landopp_bench@127.0.0.1:5432/bench_tiles'
    execFileSync(bin, ['migrate', '--database-url', url], { stdio: ['ignore', 'ignore', 'inherit'] })
    execFileSync(bin, ['import', join(inputs, 'parcels_x100.gpkg'), '--id-field', 'pid', '--attributes', cols.join(','), '--profile', join(inputs, 'profile.json'), '--database-url', url], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  if (!browserOnly) psql('bench_tiles', '-c "ANALYZE"')

  // --- the tiles: random places over the parcels' extent, kept where there are parcels ----------
  const pick = async (z, n, seed) => {
    const r = rng(seed)
    const out = []
    const b = land.bounds
    while (out.length < n) {
      const t = tileOf(b[0] + r() * (b[2] - b[0]), b[1] + r() * (b[3] - b[1]), z)
      if ((await fetchTile(`/v1/tiles/parcels/${t.join('/')}.mvt`)) > 0) out.push(t)
    }
    return out
  }
  const sets = [['z14', await pick(14, 200, 14)], ['z10', await pick(10, 40, 10)]]
  console.log(`detail zoom (vector tiles from): ${land.detail_zoom}`)
  const demTiles = []
  {
    // hillshade tiles over the DEM: the first copy of the city (Bangor itself), where the DEM is
    const r = rng(3)
    const b = land.bounds
    while (demTiles.length < 200) {
      const t = tileOf(b[0] + r() * (b[2] - b[0]) * 0.1, b[3] - r() * (b[3] - b[1]) * 0.1, 14)
      demTiles.push(t)
    }
  }
  const sql = (tiles) => ['\\timing on', '\\o /dev/null',
    // the same selection as landopp's: at most the 5,000 largest parcels (larger side of the
    // native-CRS box) under the tile; landopp also drops parcels under half a pixel, which only
    // lightens its side at low zooms
    `PREPARE t(int, int, int) AS SELECT ST_AsMVT(q, 'parcels', 4096, 'geom') FROM (
       SELECT p.parcel_id AS id, s.score, s.rank, s.excluded, p.features,
              ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
       FROM (SELECT * FROM land_parcels
             WHERE geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)
             ORDER BY greatest(ST_XMax(geom_native) - ST_XMin(geom_native), ST_YMax(geom_native) - ST_YMin(geom_native)) DESC
             LIMIT 5000) p
       JOIN parcel_scores s ON s.parcel_id = p.parcel_id AND s.profile = '${profileName}') q;`,
    ...tiles.map(([z, x, y]) => `EXECUTE t(${z}, ${x}, ${y});`)].join('\n')
  const pgPass = (tiles) => {
    const out = psql('bench_tiles', '', sql(tiles))
    const ms = [...out.matchAll(/Time: ([\d.]+) ms/g)].map((m) => Number(m[1]))
    return ms.slice(-tiles.length)
  }
  const loPass = async (tiles, kind = 'parcels', ext = 'mvt') => {
    const ms = []
    for (const t of tiles) { const t0 = now(); await fetchTile(`/v1/tiles/${kind}/${t.join('/')}.${ext}`); ms.push(now() - t0) }
    return ms
  }
  for (const [label, tiles] of browserOnly ? [] : sets) {
    const lo = []; const pg = []
    for (let i = 0; i < RUNS; i++) { lo.push(await loPass(tiles)); pg.push(pgPass(tiles)) }
    const m = (runs, p) => median(runs.map((r) => pct(r, p)))
    rows.push([`parcel MVT tile ${label} (${tiles.length} non-empty tiles), p50`, m(lo, 50), m(pg, 50)])
    rows.push([`parcel MVT tile ${label}, p95`, m(lo, 95), m(pg, 95)])
  }
  const sc = []
  for (let i = 0; i < RUNS; i++) sc.push(await loPass(sets[1][1], 'scores', 'png'))
  rows.push([`score PNG tile z10 (the same ${sets[1][1].length} tiles), p50`, median(sc.map((r) => pct(r, 50))), null])
  rows.push(['score PNG tile z10, p95', median(sc.map((r) => pct(r, 95))), null])
  const hs = []
  for (let i = 0; i < (browserOnly ? 0 : RUNS); i++) hs.push(await loPass(demTiles, 'hillshade', 'png'))
  if (hs.length) {
    rows.push(['hillshade PNG tile z14 (Bangor 10 m DEM), p50', median(hs.map((r) => pct(r, 50))), null])
    rows.push(['hillshade PNG tile z14, p95', median(hs.map((r) => pct(r, 95))), null])
  }

  // --- the dashboard in a browser on the 1 M parcels ---------------------------------------------
  const webRequire = createRequire(join(root, 'examples', 'server', 'web', 'package.json'))
  let chromium = null
  try { chromium = webRequire('playwright-core').chromium } catch { console.error('no playwright-core (npm ci in examples/server/web): browser figures skipped') }
  if (chromium) {
    const b = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'] })
    const paints = []; const lists = []; const redraws = []
    for (let i = 0; i < RUNS; i++) {
      const page = await b.newPage({ viewport: { width: 1400, height: 900 } })
      await page.goto(`http://127.0.0.1:${PORT}/`)
      await page.click('#key-login summary')
      await page.fill('#api-key', KEY)
      const t0 = now()
      await page.click('#key-btn')
      await page.waitForFunction(() => window.__landopp?.mapReady === true, null, { timeout: 60000 })
      paints.push(now() - t0)
      if (i === 0) await page.screenshot({ path: join(root, 'target', 'dashboard-1m-overview.png') })
      await page.click('#search-btn')
      await page.waitForFunction(() => document.querySelectorAll('#results li').length >= 5, null, { timeout: 60000 })
      const [searches, red] = await page.evaluate(() => [window.__landopp.searches, window.__landopp.redraws || 0])
      const t1 = now()
      await page.evaluate((w) => { const el = document.querySelector('#sliders input'); el.value = String(w); el.dispatchEvent(new Event('input')) }, 0.05 + i * 0.01)
      await page.waitForFunction((n) => window.__landopp.searches > n, searches, { timeout: 60000 })
      lists.push(now() - t1)
      await page.waitForFunction((n) => (window.__landopp.redraws || 0) > n, red, { timeout: 60000 })
      redraws.push(now() - t1)
      await page.close()
    }
    await b.close()
    // run 1 is cold (the server computes each score tile's coverage); later runs repaint cached ones
    console.log(`browser runs (ms): paint ${paints.map(Math.round).join(', ')}; list ${lists.map(Math.round).join(', ')}; redraw ${redraws.map(Math.round).join(', ')}`)
    rows.push(['dashboard first meaningful paint (key in → map idle with tiles), median', median(paints), null])
    rows.push(['weight slider → list re-ranked (incl. 150 ms debounce), median', median(lists), null])
    rows.push(['weight slider → map redrawn from what-if tiles (incl. 150 ms debounce), median', median(redraws), null])
  }
  const f = (v) => (v === null ? '—' : `${v.toFixed(2)} ms`)
  console.log(`\n| ${RUNS} interleaved runs, 1,064,300 parcels (${new Date().toISOString().slice(0, 10)}) | landopp | PostGIS ST_AsMVT | ratio |`)
  console.log('|---|---|---|---|')
  for (const [label, a, b] of rows) console.log(`| ${label} | ${f(a)} | ${f(b)} | ${b === null ? '—' : `${(b / a).toFixed(1)}×`} |`)
  void profile
} finally {
  for (const p of procs) p.kill('SIGTERM')
  rmSync(td, { recursive: true, force: true })
}
