// Types of the package entry: the generated declarations — index.d.ts (the native functions, by
// napi-rs) and types.d.ts (the configuration and result documents, from the Rust types) — plus
// the JS helpers of landopp.js.
export * from './index'
export * from './types'

import type { Contribution, Hit, Page, Query } from './types'
import type { HitTable } from './index'

/** A search request: the same document as in Rust, Python and the CLI (snake_case keys). */
export type SearchQuery = Query

/** One result; its `explanation` is built from the page's numbers when first read. */
export interface SearchHit extends Hit {
  explanation: Contribution[]
}

/** One page of results. */
export interface SearchPage extends Page {
  hits: SearchHit[]
}

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
