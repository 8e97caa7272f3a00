// ES module entry: re-exports the CommonJS package entry.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./landopp.js')

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
  terrainToFile,
  colorRelief,
  spectralIndices,
  formulaVariables,
  zonalStats,
  buildSearchIndex,
  SearchIndex,
  kfold,
  holdout,
  spatialHoldout,
  spatialFolds,
  crossValPredict,
  trainModel,
  loadModel,
  Model,
  driftReport,
  abAssign,
  stacSearch,
  bestScenes,
  arcgisFeatures,
  ogcFeatures,
  soilDataAccess,
  validate,
} = binding
export default binding
