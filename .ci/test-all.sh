#!/usr/bin/env bash
# Run every test of landopp in all three languages (Rust, Python, Node), installing the Python
# and Node tooling it needs. Usage: bash .ci/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
step() { printf '\n==> %s\n' "$*"; }
# need COMMAND PACKAGE: install the Debian package when the command is missing and we are root;
# under CI=true a command that cannot be installed fails the run, else its checks skip visibly.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing $2 (for $1)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  elif [ "${CI:-}" = "true" ]; then
    echo "$1 (apt $2) is required under CI=true" >&2; exit 1
  fi
}

# System tools the cross-checks use (gdalinfo/ogrinfo, gdalwarp, gdaldem).
need gdalinfo gdal-bin

step "Rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: tests (core unit + integration + doctests, CLI)"
cargo test --locked
# the bindings' allocator setup (core feature `mimalloc`, not in the default members' features)
cargo test --locked -p landopp --features mimalloc --lib alloc::
# the server on a shared PostgreSQL + PostGIS store: the HTTP suite and the kill -9 test again
step "Rust: the server on PostgreSQL + PostGIS and Redis (installed and started when missing)"
source .ci/postgres.sh
source .ci/redis.sh
if [ -n "${LANDOPP_TEST_DATABASE_URL:-}${LANDOPP_TEST_REDIS_URL:-}" ]; then
  cargo test --locked -p landopp-server --test http --test durability --test postgres --test replicas --test faults \
    --test backup --test shared
fi
unset LANDOPP_TEST_DATABASE_URL LANDOPP_TEST_REDIS_URL
# the server's optional OTLP trace export (cargo feature `otlp`): lints, and spans reach a collector
cargo clippy --locked -p landopp-server --features otlp --all-targets -- -D warnings
cargo test --locked -p landopp-server --features otlp --test otlp

step "Rust: the lean build (cargo add landopp --no-default-features): at most 60 dependencies, lints, unit tests"
lean=$(cargo tree --locked -p landopp --no-default-features -e normal,build --prefix none | sed 's/ (\*)//' | sort -u | grep -cv '^landopp ')
echo "landopp --no-default-features: $lean dependencies"
[ "$lean" -le 60 ] || { echo "the lean build grew past 60 dependencies" >&2; exit 1; }
cargo clippy --locked -p landopp --no-default-features --all-targets -- -D warnings
cargo test --locked -p landopp --no-default-features --lib

step "Rust crate: cargo publish --dry-run (the packaged crate builds alone), its doctests from the package, docs with -D warnings, the public API snapshot"
cargo package --locked --allow-dirty --no-verify -q -p landopp   # the .crate file (publish --dry-run below verifies it builds)
cargo publish --dry-run --locked --allow-dirty -q -p landopp
ver=$(cargo pkgid -p landopp | sed 's/.*[#@]//')
(cd "target/package/landopp-$ver" && CARGO_TARGET_DIR="$ROOT/target" cargo test --locked --doc -q)
RUSTDOCFLAGS="-D warnings" cargo doc --locked -q -p landopp --no-deps --all-features
# the public API snapshot (core/public-api.txt): a removed or changed item fails without a new version
python3 .ci/public_api.py

step "Supply chain: cargo deny (advisories offline against ../shared/advisory-db, licences, bans, sources)"
bash .ci/deny.sh

step "Fuzz: every parser under AFL++ for a short budget (core/fuzz/run.sh; long runs in core/fuzz/README.md)"
bash core/fuzz/run.sh "${LANDOPP_FUZZ_CI_SECONDS:-20}"

step "Python: tooling in .venv"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "maturin>=1.9,<2" "pytest>=8" "numpy>=1.24" "geopandas>=0.14" "shapely>=2" "pandas>=2" "matplotlib>=3.7" \
  "pyproj>=3.6" "rasterio>=1.3" "pyogrio>=0.7" "mypy>=1.8" "exactextract>=0.2" "spyndex>=0.6" "pymcdm>=1.2" "scikit-learn>=1.6" "openapi-spec-validator>=0.7" \
  "kubernetes-validate>=1.30" "nbclient>=0.10" "nbformat>=5.10" "ipykernel>=6.29" \
  "mkdocs>=1.6" "mkdocs-material>=9.5" "mkdocstrings[python]>=0.26" "mkdocs-jupyter>=0.25" \
  "dask[dataframe]>=2024.8" "distributed>=2024.8" "dask-geopandas>=0.4" "pyarrow>=15"
step "Python: build the extension (maturin develop --release: the cross-checks run real workloads)"
(cd python && VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" maturin develop --release --locked -q)
step "Python: the wheel and sdist (maturin), installed into a fresh venv with no Rust toolchain on PATH, smoke test"
rm -rf target/wheels target/wheel-venv
(cd python && VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" maturin build --release --locked -q --auditwheel check --out ../target/wheels \
  && VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" maturin sdist --out ../target/wheels >/dev/null)
ls target/wheels
ls target/wheels/landopp-*-abi3-manylinux*.whl >/dev/null || { echo "the wheel has no manylinux abi3 tag" >&2; exit 1; }
"$PY" -m venv target/wheel-venv
# installed and used with no Rust toolchain on PATH (pip would build from source if the wheel did not fit)
source .ci/clean-env.sh
"${clean[@]}" target/wheel-venv/bin/python -m pip install -q --only-binary landopp target/wheels/landopp-*.whl
"${clean[@]}" target/wheel-venv/bin/python .ci/wheel_smoke.py "$ROOT"
step "Python: landopp.types (TypedDicts generated from the Rust types) is up to date"
.venv/bin/python python/gen_types.py --check
step "Python: the dependency trees' licences (npm lockfiles, the package's Python requirements)"
.venv/bin/python .ci/licences.py > target/dependency-licences.md
echo "listed in target/dependency-licences.md"
step "Python: pytest"
.venv/bin/python -m pytest python/tests -q
step "Python: stubs match the runtime (mypy.stubtest)"
.venv/bin/python -m mypy.stubtest landopp --mypy-config-file python/mypy.ini --allowlist python/stubtest-allowlist.txt
step "Python: mypy --strict on the package and the examples"
(cd python && ../.venv/bin/python -m mypy --strict --config-file mypy.ini landopp ../examples/python/*.py)

step "Server deploy artefacts: Kubernetes manifests (kubernetes-validate --strict), alert rules (promtool check + unit tests)"
need promtool prometheus
.venv/bin/kubernetes-validate --strict --quiet examples/server/deploy/k8s/*.yaml
if command -v promtool >/dev/null 2>&1; then
  (cd examples/server/deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts_test.yml)
else
  echo "SKIPPED: promtool is not installed (alert rules unchecked)"
fi

step "Node: tooling (npm) and native addon (napi build)"
# the release addon, as the README builds it (the core's release build is the Python extension's)
(cd node && npm install --no-audit --no-fund --loglevel=error && npm run build --silent)
step "Node: generated index.d.ts / index.js / types.schema.json / types.d.ts are committed and up to date"
# the documents' schema from the Rust types (fails when a config or result type changed without it)
cargo test --locked -q -p landopp --features schema,remote --test binding_types
git diff --exit-code -- node/index.d.ts node/index.js node/types.schema.json node/types.d.ts
step "Node: node --test"
(cd node && node --test test/)
step "Node: the npm packages (napi-rs layout) packed, installed into a fresh project, used with no Rust toolchain on PATH"
bash .ci/npm_pack.sh

step "Documentation site: guide, notebooks, Python (mkdocs --strict), Node (typedoc), Rust (rustdoc) — warnings are errors"
bash docs/build.sh

step "Web dashboard: build (esbuild) and test in headless chromium against the server binary (playwright-core)"
need chromium chromium
# the server binary the tests start: `cargo test` above built it
cargo build --locked -q -p landopp-server
(cd examples/server/web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent && node --test test/)

printf '\nall tests passed (Rust, Python, Node)\n'
