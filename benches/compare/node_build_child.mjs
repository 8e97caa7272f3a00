// One search-index build in a fresh Node process, for node_compare.mjs: the table files it wrote
// (ids.txt, columns.txt, <column>.f64, profile.json in DIR) and a parcel file; prints
// {"build_ms": ...} for the build call alone (table crossing + read + validation + index + scores).
//
//   node benches/compare/node_build_child.mjs PARCELS.gpkg ID_FIELD DIR
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const landopp = createRequire(join(root, 'node', 'package.json'))('./landopp.js')
const [gpkg, idField, dir] = process.argv.slice(2)
const ids = readFileSync(join(dir, 'ids.txt'), 'utf8').trimEnd().split('\n')
const names = readFileSync(join(dir, 'columns.txt'), 'utf8').trimEnd().split('\n')
const columns = names.map((name) => {
  const b = readFileSync(join(dir, `${name}.f64`))
  return { name, values: new Float64Array(b.buffer, b.byteOffset, b.length / 8), source: '', unit: '', method: '' }
})
const profile = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'))
const t = process.hrtime.bigint()
const idx = await landopp.buildSearchIndex(gpkg, { ids, columns }, profile, { idField })
const ms = Number(process.hrtime.bigint() - t) / 1e6
console.log(JSON.stringify({ build_ms: ms, rows: idx.length }))
