// The comparison's Node service: examples/node-search-service over the bench's 1 M parcels (a
// GeoPackage and the feature table as raw f64 columns), in its own process.
//   node node_service_child.mjs TABLE_DIR PARCELS.gpkg ID_FIELD PROFILE.json PORT
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const [dir, parcels, idField, profilePath, port] = process.argv.slice(2)
const { createSearchService } = await import('../../examples/node-search-service/server.mjs')
const ids = readFileSync(join(dir, 'ids.txt'), 'utf8').split('\n').filter((l) => l.length)
const columns = readFileSync(join(dir, 'columns.txt'), 'utf8').split('\n').filter((l) => l.length).map((name) => {
  const b = readFileSync(join(dir, `${name}.f64`))
  return { name, values: new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8), source: '', unit: '', method: '' }
})
const profile = JSON.parse(readFileSync(profilePath, 'utf8'))
const server = await createSearchService({ land: { parcels, idField, table: { ids, columns }, profile }, rateLimit: 0, maxConnections: 4096 })
server.listen(Number(port), '127.0.0.1', () => console.log('ready'))
