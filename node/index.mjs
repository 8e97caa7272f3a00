// ES module entry: re-exports the generated CommonJS binding.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const {
  version,
  readRaster,
  readLayer,
  listLayers,
  info,
  crsInfo,
  transform,
  geodesicAreaPerimeter,
  writeLayer,
  features,
  score,
  terrain,
} = binding
export default binding
