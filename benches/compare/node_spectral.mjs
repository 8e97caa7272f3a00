// Node spectral indices on >= 100 Mcells, the job of features_compare.py's spectral rows: the
// 29RKH Sentinel-2 L2A bands (B02 B03 B04 B08, B11 and SCL repeated to 10 m) read with
// readRaster (Uint16Array / Uint8Array), tiled 10 x 10 in memory (121 Mcells; nothing written),
// NDVI NDWI NDBI SAVI EVI with SCL masking, into caller-provided outputs (`out`, 5 runs) and into
// fresh outputs (2 runs). Prints JSON; GB/s counts 31 bytes per cell (5 u16 bands + SCL in,
// 5 f32 out), as the Python row does.
//
//   (cd node && npm run build:release)
//   node --expose-gc --max-old-space-size=8000 benches/compare/node_spectral.mjs [../shared/data]
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const landopp = createRequire(join(root, 'node', 'package.json'))('./landopp.js')
const shared = resolve(process.argv[2] ?? join(root, '..', 'shared', 'data'))
const d = join(shared, 'sentinel2_l2a_29RKH_2020-02-19')
const rd = async (f) => (await landopp.readRaster(`${d}/${f}.tif`, { band: 0 }))
const T = 10
const up2 = (r) => { // 20 m -> 10 m by repetition
  const w = r.width * 2, h = r.height * 2, src = r.bands[0].data, out = new src.constructor(w * h)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = src[(y >> 1) * r.width + (x >> 1)]
  return { w, h, data: out }
}
const tile = ({ w, h, data }) => {
  const W = w * T, out = new data.constructor(W * h * T)
  for (let ty = 0; ty < T; ty++) for (let y = 0; y < h; y++) {
    const row = data.subarray(y * w, (y + 1) * w)
    for (let tx = 0; tx < T; tx++) out.set(row, (ty * h + y) * W + tx * w)
  }
  return { w: W, h: h * T, data: out }
}
const base = {}
for (const [k, f] of [['B', 'B02'], ['G', 'B03'], ['R', 'B04'], ['N', 'B08']]) { const r = await rd(f); base[k] = { w: r.width, h: r.height, data: r.bands[0].data } }
base.S1 = up2(await rd('B11'))
const scl0 = up2(await rd('SCL'))
const B = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, tile(v)]))
const S = tile(scl0)
const grid = { width: S.w, height: S.h, transform: [0, 10, 0, 0, 0, -10] }
const n = S.w * S.h
const bands = Object.fromEntries(Object.entries(B).map(([k, v]) => [k, { ...grid, nodata: 0, bands: [v.data] }]))
const opts = { sensor: 'sentinel2_l2a', baseline: '02.14', scl: { ...grid, bands: [S.data] } }
const names = ['NDVI', 'NDWI', 'NDBI', 'SAVI', 'EVI']
console.log(`${(n / 1e6).toFixed(0)} Mcells, bands ${B.N.data.constructor.name}, SCL ${S.data.constructor.name}`)
const out = Object.fromEntries(names.map((k) => [k, new Float32Array(n).fill(1)]))
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1]
const tf = [], ti = []
for (let i = 0; i < 5; i++) {
  let t = performance.now(); await landopp.spectralIndices(bands, names, { ...opts, out }); ti.push(performance.now() - t)
}
for (let i = 0; i < 2; i++) {
  let t = performance.now(); let r = await landopp.spectralIndices(bands, names, opts); tf.push(performance.now() - t); r = null; globalThis.gc?.()
}
console.log(JSON.stringify({ out_ms: ti.map(Math.round), out_median_ms: Math.round(med(ti)), fresh_ms: tf.map(Math.round), GBps_out: +(n * 31 / med(ti) / 1e6).toFixed(1) }))
