// Bundle the dashboard into dist/ (esbuild): app.js with MapLibre GL and h3-js, app.css with
// MapLibre's styles, index.html. Nothing is fetched from the internet at run time.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, 'dist')
rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })
await build({
  entryPoints: { app: join(here, 'src/app.js') },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: dist,
  logLevel: 'warning',
  legalComments: 'linked',
})
copyFileSync(join(here, 'src/index.html'), join(dist, 'index.html'))
console.log(`dashboard built in ${dist}`)
