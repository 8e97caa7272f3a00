#!/usr/bin/env python3
"""The crate's public API as text, one item per line (`core/public-api.txt`), from rustdoc's JSON:
every public module, type, field, variant, function and method with its signature, trait, constant
and re-export, reachable from the crate root, sorted.

    python3 .ci/public_api.py            # compare with core/public-api.txt (CI)
    python3 .ci/public_api.py --bless    # write core/public-api.txt

The comparison guards breaking changes: a line that is gone or changed (an item removed, renamed,
or given another signature) fails unless the crate's version in the snapshot's first line differs
from Cargo.toml's (a release that may break); new lines fail only until the snapshot is blessed
(the API grew: say so in the same commit). rustdoc's JSON is built with RUSTC_BOOTSTRAP=1 (the
stable toolchain's own rustdoc; the format is unstable, so the reader checks its version).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "core" / "public-api.txt"
FORMATS = range(50, 70)  # rustdoc JSON format versions this reader was written against (57 today)


def build() -> dict:
    env = dict(os.environ, RUSTC_BOOTSTRAP="1", RUSTDOCFLAGS="-Z unstable-options --output-format json")
    target = Path(env.get("CARGO_TARGET_DIR", ROOT / "target"))
    subprocess.run(["cargo", "doc", "--locked", "-q", "-p", "landopp", "--no-deps", "--all-features"],
                   cwd=ROOT, env=env, check=True)
    d = json.loads((target / "doc" / "landopp.json").read_text())
    if d["format_version"] not in FORMATS:
        sys.exit(f"rustdoc JSON format {d['format_version']} is not one this reader knows ({FORMATS}): update it")
    return d


def ty(t) -> str:
    """A type as Rust writes it (paths by their last segment)."""
    if t is None:
        return "()"
    if isinstance(t, str):
        return "_" if t == "infer" else t
    (k, v), = t.items()
    if k == "primitive" or k == "generic":
        return v
    if k == "resolved_path":
        return v["path"].split("::")[-1] + args(v.get("args"))
    if k == "borrowed_ref":
        return "&" + (v["lifetime"] + " " if v.get("lifetime") else "") + ("mut " if v["is_mutable"] else "") + ty(v["type"])
    if k == "raw_pointer":
        return ("*mut " if v["is_mutable"] else "*const ") + ty(v["type"])
    if k == "slice":
        return f"[{ty(v)}]"
    if k == "array":
        return f"[{ty(v['type'])}; {v['len']}]"
    if k == "tuple":
        return "(" + ", ".join(ty(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if k == "impl_trait":
        return "impl " + " + ".join(bound(b) for b in v)
    if k == "dyn_trait":
        return "dyn " + " + ".join(p["trait"]["path"].split("::")[-1] + args(p["trait"].get("args")) for p in v["traits"])
    if k == "qualified_path":
        return f"<{ty(v['self_type'])}>::{v['name']}"
    if k == "function_pointer":
        s = v["sig"]
        return "fn(" + ", ".join(ty(x[1]) for x in s["inputs"]) + ")" + (" -> " + ty(s["output"]) if s.get("output") else "")
    return k


def args(a) -> str:
    if not a:
        return ""
    if "angle_bracketed" in a:
        parts = []
        for x in a["angle_bracketed"]["args"]:
            (k, v), = x.items() if isinstance(x, dict) else (("type", x),)
            parts.append(v if k in ("lifetime", "const") and isinstance(v, str) else ty(v) if k == "type" else str(v))
        for c in a["angle_bracketed"].get("constraints", []):
            parts.append(c["name"] + " = ..." if "equality" in c.get("binding", {}) else c["name"])
        return "<" + ", ".join(parts) + ">" if parts else ""
    if "parenthesized" in a:
        p = a["parenthesized"]
        return "(" + ", ".join(ty(x) for x in p["inputs"]) + ")" + (" -> " + ty(p["output"]) if p.get("output") else "")
    return ""


def bound(b) -> str:
    if "trait_bound" in b:
        return b["trait_bound"]["trait"]["path"].split("::")[-1] + args(b["trait_bound"]["trait"].get("args"))
    return b.get("outlives", "?")


def generics(g) -> str:
    ps = []
    for p in g.get("params", []):
        kind = p["kind"]
        if "lifetime" in kind:
            ps.append(p["name"])
        elif "type" in kind:
            bs = kind["type"].get("bounds", [])
            ps.append(p["name"] + (": " + " + ".join(bound(b) for b in bs) if bs else ""))
        elif "const" in kind:
            ps.append(f"const {p['name']}: {ty(kind['const']['type'])}")
    ps = [p for p in ps if not p.startswith("impl ")]
    return "<" + ", ".join(ps) + ">" if ps else ""


def sig(name: str, f) -> str:
    s = f["sig"]
    def param(n: str, t) -> str:
        if n != "self":
            return f"{n}: {ty(t)}"
        r = t.get("borrowed_ref") if isinstance(t, dict) else None
        return ("&mut self" if r["is_mutable"] else "&self") if r else ("self" if ty(t) == "Self" else f"self: {ty(t)}")

    ins = ", ".join(param(n, t) for n, t in s["inputs"])
    h = f["header"]
    pre = ("const " if h["is_const"] else "") + ("async " if h["is_async"] else "") + ("unsafe " if h["is_unsafe"] else "")
    out = f" -> {ty(s['output'])}" if s.get("output") else ""
    return f"{pre}fn {name}{generics(f['generics'])}({ins}){out}"


def api(d: dict) -> list:
    idx = d["index"]
    lines = set()

    def public(it) -> bool:
        return it.get("visibility") == "public"

    def walk(iid, path: str, seen: set) -> None:
        it = idx.get(str(iid))
        if it is None or iid in seen:
            return
        seen = seen | {iid}
        (kind, v), = it["inner"].items()
        name = it.get("name")
        here = f"{path}::{name}" if name and path else (name or path)
        if kind == "module":
            lines.add(f"mod {here}")
            for c in v["items"]:
                walk(c, here, seen)
        elif kind == "use":
            if v.get("id") is None:
                lines.add(f"use {path}::{v['source']}{'::*' if v['is_glob'] else ''}")
                return
            target = idx.get(str(v["id"]))
            if v["is_glob"] and target and "module" in target["inner"]:
                for c in target["inner"]["module"]["items"]:
                    walk(c, path, seen)
            elif target is not None:
                copy = dict(target, name=v["name"])
                idx[f"use:{path}:{v['name']}"] = copy
                walk(f"use:{path}:{v['name']}", path, seen)
            else:
                lines.add(f"use {path}::{v['name']} = {v['source']}")
        elif kind == "struct":
            lines.add(f"struct {here}{generics(v['generics'])}")
            k = v["kind"]
            fields = k.get("plain", {}).get("fields", []) if isinstance(k, dict) else []
            for fid in fields:
                fd = idx[str(fid)]
                lines.add(f"field {here}.{fd['name']}: {ty(fd['inner']['struct_field'])}")
            if isinstance(k, dict) and "tuple" in k:
                ts = [ty(idx[str(f)]["inner"]["struct_field"]) if f is not None else "_" for f in k["tuple"]]
                lines.add(f"struct {here}({', '.join(ts)})")
            impls(v["impls"], here)
        elif kind == "enum":
            lines.add(f"enum {here}{generics(v['generics'])}")
            for vid in v["variants"]:
                var = idx[str(vid)]
                vk = var["inner"]["variant"]["kind"]
                if vk == "plain":
                    lines.add(f"variant {here}::{var['name']}")
                elif "tuple" in vk:
                    ts = [ty(idx[str(f)]["inner"]["struct_field"]) if f is not None else "_" for f in vk["tuple"]]
                    lines.add(f"variant {here}::{var['name']}({', '.join(ts)})")
                else:
                    fs = [f"{idx[str(f)]['name']}: {ty(idx[str(f)]['inner']['struct_field'])}" for f in vk["struct"]["fields"]]
                    lines.add(f"variant {here}::{var['name']} {{ {', '.join(fs)} }}")
            impls(v["impls"], here)
        elif kind == "function":
            lines.add(f"{sig(here, v)}")
        elif kind == "trait":
            lines.add(f"trait {here}{generics(v['generics'])}")
            for m in v["items"]:
                mi = idx[str(m)]
                if "function" in mi["inner"]:
                    lines.add(f"trait-fn {sig(here + '::' + mi['name'], mi['inner']['function'])}")
        elif kind == "constant":
            lines.add(f"const {here}: {ty(v['type'])}")
        elif kind == "static":
            lines.add(f"static {here}: {ty(v['type'])}")
        elif kind == "type_alias":
            lines.add(f"type {here}{generics(v['generics'])} = {ty(v['type'])}")
        elif kind == "macro":
            lines.add(f"macro {name}!")

    def impls(ids, here: str) -> None:
        for i in ids:
            im = idx[str(i)]["inner"]["impl"]
            if im.get("is_synthetic") or im.get("blanket_impl") is not None:
                continue  # auto traits and blanket impls follow from the rest
            if im.get("trait"):
                tr = im["trait"]["path"].split("::")[-1] + args(im["trait"].get("args"))
                lines.add(f"impl {'!' if im.get('is_negative') else ''}{tr} for {here}")
                continue
            for m in im["items"]:
                mi = idx[str(m)]
                if not public(mi):
                    continue
                if "function" in mi["inner"]:
                    lines.add(f"method {sig(here + '::' + mi['name'], mi['inner']['function'])}")
                elif "assoc_const" in mi["inner"]:
                    lines.add(f"const {here}::{mi['name']}: {ty(mi['inner']['assoc_const']['type'])}")

    walk(d["root"], "", frozenset())
    return sorted(lines)


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'\[workspace\.package\][^\[]*?version\s*=\s*"([^"]+)"', text, re.S).group(1)


def main() -> int:
    head = f"# landopp {version()} public API (python3 .ci/public_api.py --bless; see that script)"
    now = [head] + api(build())
    if "--bless" in sys.argv:
        SNAPSHOT.write_text("\n".join(now) + "\n")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {len(now) - 1} items")
        return 0
    old = SNAPSHOT.read_text().splitlines() if SNAPSHOT.exists() else []
    gone = sorted(set(old[1:]) - set(now[1:]))
    new = sorted(set(now[1:]) - set(old[1:]))
    if not gone and not new:
        print(f"public API unchanged: {len(now) - 1} items")
        return 0
    for line in gone:
        print(f"- {line}")
    for line in new:
        print(f"+ {line}")
    if gone and old and old[0] == head:
        print(f"\n{len(gone)} items removed or changed without a new version: a breaking change. Keep them, or "
              "bump the version and bless (python3 .ci/public_api.py --bless).", file=sys.stderr)
    else:
        print(f"\nthe public API changed ({len(new)} new, {len(gone)} gone): bless it in the same commit "
              "(python3 .ci/public_api.py --bless).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
