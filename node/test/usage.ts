// Compiled with `tsc --noEmit` in the test suite: the committed index.d.ts must type this usage.
import { readRaster, readLayer, transform, crsInfo, geodesicAreaPerimeter, type RasterResult, type CrsInfo } from '../index.js'

async function main(): Promise<void> {
  const r: RasterResult = await readRaster('dem.tif', { window: [0, 0, 10, 10], band: 0 })
  const first: number = r.bands[0].data[0]
  const fc = await readLayer('parcels.gpkg', { parcels: true, idField: 'id' })
  const c: CrsInfo = crsInfo('EPSG:26919')
  const { x, y } = transform('EPSG:4326', 'EPSG:26919', Float64Array.of(-68.8), Float64Array.of(44.8))
  const { areaM2 } = geodesicAreaPerimeter(fc, c.epsg ? `EPSG:${c.epsg}` : undefined)
  console.log(first, x[0], y[0], areaM2[0])
}
void main
