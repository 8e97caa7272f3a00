// Types of the package entry: the generated declarations (index.d.ts) plus the JS helpers.
export * from './index'

/** A search request (same JSON as Rust and Python). */
export interface SearchQuery {
  /** `{bbox: [xmin, ymin, xmax, ymax]}`, `{polygon: GeoJSON geometry}` or `{point: {xy: [x, y], radius_m: r}}`. */
  aoi?: { bbox: [number, number, number, number] } | { polygon: object } | { point: { xy: [number, number]; radius_m: number } }
  /** CRS of the AOI coordinates (default: the index CRS), e.g. `"EPSG:4326"`. */
  crs?: string
  /** All must hold: `{column, min?, max?, in?}` (`in`: allowed category labels). */
  filters?: Array<{ column: string; min?: number; max?: number; in?: string[] }>
  include_excluded?: boolean
  /** Sort column (default `score`). */
  sort_by?: string
  ascending?: boolean
  /** Page size (default 100). */
  limit?: number
  /** `next_cursor` of the previous page. */
  cursor?: string
  /** Per-criterion explanations in the hits (default true). */
  explain?: boolean
}

export interface Contribution {
  criterion: string
  raw: number | null
  label?: string
  transformed: number
  weight: number
  /** Additive share of the score (weighted sum, OWA, SPOTIS); NaN for weighted product and TOPSIS. */
  contribution: number
  missing: boolean
  /** Weighted product: transformed ^ weight (the score is the product of the factors). */
  factor?: number
  /** TOPSIS: weight × transformed / the criterion's norm over the candidate set. */
  weightedValue?: number
  /** TOPSIS: squared gap to the ideal value (score = √Σ anti / (√Σ ideal + √Σ anti)). */
  gapToIdeal?: number
  /** TOPSIS: squared gap to the anti-ideal value. */
  gapToAntiIdeal?: number
}

export interface SearchHit {
  id: string
  score: number | null
  rank: number
  excluded: boolean
  reasons: string[]
  sort_value: number | null
  explanation: Contribution[]
}

export interface SearchPage {
  hits: SearchHit[]
  total: number
  next_cursor: string | null
}

import type { HitTable } from './index'

declare module './index' {
  interface SearchIndex {
    /** Run a query off the JS thread. */
    query(q?: SearchQuery): Promise<SearchPage>
    /** Run a query on the JS thread (sub-millisecond for small areas). */
    querySync(q?: SearchQuery): SearchPage
    /** Run many queries in one call (in parallel, off the JS thread); hits as typed arrays. */
    queryMany(queries: SearchQuery[]): Promise<HitTable>
  }
}
