#!/usr/bin/env python3
"""List the npm and Python dependency trees with their licences (SECURITY.md).

npm: every package in the committed lockfiles (`node/`, `examples/server/web/`), runtime and
development apart. Python: the distributions the `landopp` package needs at run time, with its
extras (`geo`, `sklearn`), as installed in the interpreter running this script.
Exits 1 when a runtime dependency has no licence or one outside the permissive list.

Usage: python .ci/licences.py   (CI: .venv/bin/python .ci/licences.py)
"""
import json
import re
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERMISSIVE = {
    "MIT", "MIT-0", "ISC", "BSD", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "Apache 2.0", "Apache Software License",
    "0BSD", "Unlicense", "CC0-1.0", "Zlib", "Python-2.0", "PSF-2.0", "Python Software Foundation License",
    "BlueOak-1.0.0", "MIT-CMU", "MIT License", "BSD License", "Apache License 2.0", "Historical Permission Notice and Disclaimer (HPND)",
}
# weak (file-level) copyleft, accepted for unmodified runtime dependencies: certifi's CA bundle
WEAK_COPYLEFT = {"MPL-2.0", "Mozilla Public License 2.0 (MPL 2.0)"}
# packages that declare no licence, reviewed by hand (what the licence is, and why we know)
REVIEWED = {
    "@mapbox/jsonlint-lines-primitives": "MIT (declares none: a fork of zaach/jsonlint, which is MIT; reviewed)",
}
bad = []


def ok(expr: str) -> bool:
    """An SPDX-ish expression where every alternative of some OR branch is permissive."""
    if expr in PERMISSIVE | WEAK_COPYLEFT or expr in REVIEWED.values():
        return True
    alts = re.split(r"\s+OR\s+|/", expr.strip("() "))
    return any(all(p.strip("() ") in PERMISSIVE | WEAK_COPYLEFT for p in re.split(r"\s+AND\s+", a)) for a in alts)


def installed(lock: str, key: str) -> str:
    """A licence the lockfile lacks, from the installed package.json (old `licenses` arrays)."""
    pj = ROOT / Path(lock).parent / key / "package.json"
    name = key.rsplit("node_modules/", 1)[-1]
    if name in REVIEWED:
        return REVIEWED[name]
    if not pj.exists():
        return "?"
    d = json.loads(pj.read_text())
    lic = d.get("license") or d.get("licenses") or "?"
    if isinstance(lic, list):
        lic = " OR ".join(x.get("type", "?") if isinstance(x, dict) else str(x) for x in lic)
    return lic.get("type", "?") if isinstance(lic, dict) else lic


for lock in ["node/package-lock.json", "examples/server/web/package-lock.json"]:
    pk = json.loads((ROOT / lock).read_text())["packages"]
    rows = [(k.rsplit("node_modules/", 1)[-1], v.get("version", ""), v.get("license") or installed(lock, k), bool(v.get("dev")))
            for k, v in pk.items() if k]
    run = [r for r in rows if not r[3]]
    print(f"\n## npm: {lock} — {len(run)} runtime, {len(rows) - len(run)} development packages\n")
    print("| package | version | licence |\n|---|---|---|")
    for name, ver, lic, _ in sorted(run):
        print(f"| {name} | {ver} | {lic} |")
        if not ok(lic):
            bad.append(f"npm {name} {ver}: {lic}")
    dev = Counter(r[2] for r in rows if r[3])
    print("\ndevelopment licences: " + ", ".join(f"{k} ×{v}" for k, v in dev.most_common()))


def licence(d: metadata.Distribution) -> str:
    m = d.metadata
    if m.get("License-Expression"):
        return m["License-Expression"]
    cls = [c.split(" :: ")[-1] for c in m.get_all("Classifier") or [] if c.startswith("License ::")]
    if cls:
        return " OR ".join(cls)
    lic = (m.get("License") or "").strip().splitlines()
    return lic[0][:60] if lic else "?"


def requires(name: str, extras: set) -> list:
    """The distributions `name` needs here, with `extras` (markers evaluated on this interpreter)."""
    from packaging.requirements import Requirement

    out = []
    for r in metadata.distribution(name).requires or []:
        req = Requirement(r)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            out.append((req.name, set(req.extras)))
    return out


seen, todo = {}, [("landopp", {"geo", "sklearn"})]
try:
    metadata.distribution("landopp")
except metadata.PackageNotFoundError:
    # not installed here: its declared requirements (pyproject.toml), then each installed one's
    import tomllib
    proj = tomllib.loads((ROOT / "python/pyproject.toml").read_text())["project"]
    reqs = proj["dependencies"] + proj["optional-dependencies"]["geo"] + proj["optional-dependencies"]["sklearn"]
    from packaging.requirements import Requirement

    seen["landopp"] = ("(from python/pyproject.toml)", proj["license"]["text"])
    todo = [(Requirement(r).name, set(Requirement(r).extras)) for r in reqs]
while todo:
    name, extras = todo.pop()
    key = name.lower().replace("_", "-")
    if key in seen:
        continue
    try:
        d = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        seen[key] = ("(not installed)", "?")
        continue
    seen[key] = (d.version, licence(d))
    todo += requires(name, extras)
print(f"\n## Python: landopp[geo,sklearn] at run time — {len(seen) - 1} distributions ({sys.executable})\n")
print("| distribution | version | licence |\n|---|---|---|")
for k, (ver, lic) in sorted(seen.items()):
    print(f"| {k} | {ver} | {lic} |")
    if k != "landopp" and ver != "(not installed)" and not ok(lic):
        bad.append(f"python {k} {ver}: {lic}")
if bad:
    print("\nnot on the permissive list (review):\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
