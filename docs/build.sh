#!/usr/bin/env bash
# Build the documentation site into target/site, every part with warnings as errors and without
# the network: the user guide, the notebooks and the Python reference (mkdocs --strict,
# mkdocstrings from the package's docstrings), the Node reference (typedoc from the package's
# declarations) and the Rust reference (rustdoc, -D warnings). Open target/site/index.html.
# Needs .venv with the docs tools (bash .ci/test-all.sh installs them) and node/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON_VENV:-.venv}
NO_MKDOCS_2_WARNING=1 "$PY/bin/mkdocs" build --strict --quiet
(cd node && npx --no-install typedoc --out ../target/site/node --logLevel Warn)
RUSTDOCFLAGS="-D warnings" cargo doc --locked -q -p landopp --no-deps --all-features
rm -rf target/site/rust && cp -r target/doc target/site/rust
rm -f target/site/rust/landopp.json   # rustdoc's JSON (the public-API snapshot's input) is not a page
for page in index.html reference/python/index.html node/index.html rust/landopp/index.html \
            workflows/notebooks/01_solar_siting/index.html; do
  [ -s "target/site/$page" ] || { echo "docs: target/site/$page is missing" >&2; exit 1; }
done
echo "documentation built: target/site/index.html"
