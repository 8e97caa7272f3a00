"""Write ``landopp/types.py`` — TypedDicts of the configuration documents and results — from
``types.schema.json``, which ``core/tests/binding_types.rs`` writes from the Rust types.

    python python/gen_types.py          # rewrite landopp/types.py
    python python/gen_types.py --check  # fail if it is out of date (CI)

Only what the schema uses is handled: objects (closed, optional keys from defaults), tagged unions
(``oneOf`` of objects told apart by a constant), ``anyOf``, ``allOf`` (merged), arrays, maps,
constants and ``$ref``. Functional TypedDict syntax throughout: some keys (``in``) are Python
keywords.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMA = HERE / "types.schema.json"
OUT = HERE / "landopp" / "types.py"

SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def camel(s: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", s) if p)


class Gen:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.out: list[str] = []
        self.done: set[str] = set()
        self.aliases: list[tuple[str, str, str]] = []

    def ref(self, s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = self.defs[s["$ref"].rsplit("/", 1)[1]]
        return s

    def merged(self, s: dict[str, Any]) -> dict[str, Any]:
        """An ``allOf`` of objects as one object."""
        if "allOf" not in s:
            return s
        out: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in [{k: v for k, v in s.items() if k != "allOf"}, *s["allOf"]]:
            part = self.merged(self.ref(part))
            out["properties"].update(part.get("properties", {}))
            out["required"] += part.get("required", [])
        if "description" in s:
            out["description"] = s["description"]
        return out

    def tag_of(self, s: dict[str, Any]) -> str | None:
        for v in self.merged(self.ref(s)).get("properties", {}).values():
            if isinstance(v, dict) and isinstance(v.get("const"), str):
                return v["const"]
        return None

    def typ(self, s: Any, name: str) -> str:
        """The annotation of schema ``s``; objects with properties become TypedDicts ``name``."""
        if s is True or not isinstance(s, dict) or not s or set(s) <= {"description", "default"}:
            return "Any"
        if "$ref" in s:
            return s["$ref"].rsplit("/", 1)[1]
        if "const" in s:
            return f"Literal[{json.dumps(s['const'])}]"
        if "enum" in s:
            return "Literal[" + ", ".join(json.dumps(v) for v in s["enum"]) + "]"
        for key in ("oneOf", "anyOf"):
            if key in s:
                parts = []
                for i, x in enumerate(s[key]):
                    tag = self.tag_of(x) if isinstance(x, dict) else None
                    parts.append(self.typ(x, name + camel(tag or ("" if len(s[key]) == 1 else str(i + 1)))))
                return " | ".join(dict.fromkeys(parts))
        if "allOf" in s:
            if len(s["allOf"]) == 1 and "properties" not in s:
                return self.typ(s["allOf"][0], name)
            return self.typed_dict(self.merged(s), name)
        t = s.get("type")
        if isinstance(t, list):
            return " | ".join(dict.fromkeys(self.typ({**s, "type": x}, name) for x in t))
        if t in SCALARS:
            return SCALARS[t]
        if t == "array":
            return f"list[{self.typ(s.get('items', True), name + 'Item')}]"
        if t == "object" or "properties" in s:
            if "properties" in s:
                return self.typed_dict(s, name)
            extra = s.get("additionalProperties", True)
            return f"dict[str, {self.typ(extra, name + 'Value')}]"
        return "Any"

    def typed_dict(self, s: dict[str, Any], name: str) -> str:
        if name in self.done:
            return name
        self.done.add(name)
        required = set(s.get("required", []))
        fields = []
        for key, sub in s.get("properties", {}).items():
            t = self.typ(sub, name + camel(key))
            # NotRequired outside the string: the keys' requiredness is right at run time too
            fields.append(f"    {json.dumps(key)}: {json.dumps(t) if key in required else f'NotRequired[{json.dumps(t)}]'},")
        doc = s.get("description", "").strip().replace('"""', "'''")
        block = [f"{name} = TypedDict({json.dumps(name)}, {{", *fields, "})"]
        if doc:
            block.append(f'"""{doc}"""')
        self.out.append("\n".join(block))
        return name

    def definition(self, name: str, s: dict[str, Any]) -> None:
        if name in self.done:
            return
        if s.get("type") == "object" and "properties" in s and "allOf" not in s:
            self.typed_dict(s, name)
            return
        if "allOf" in s and "oneOf" not in s and "anyOf" not in s:
            self.typed_dict(self.merged(s), name)
            return
        self.done.add(name)
        t = self.typ(s, name)
        doc = s.get("description", "").strip().replace('"""', "'''")
        self.aliases.append((name, t, doc))

    def alias_blocks(self) -> list[str]:
        """Aliases as real expressions (``typing.get_args`` works on them), after the TypedDicts
        they name and after each other."""
        out: list[str] = []
        defined: set[str] = set()
        pending = list(self.aliases)
        names = {n for n, _, _ in pending}
        while pending:
            for k, (name, t, doc) in enumerate(pending):
                used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", t)) & names
                if used <= defined | {name}:
                    block = f"{name}: TypeAlias = {t}"
                    if doc:
                        block += f'\n"""{doc}"""'
                    out.append(block)
                    defined.add(name)
                    del pending[k]
                    break
            else:
                raise SystemExit(f"aliases refer to each other: {[n for n, _, _ in pending]}")
        return out


def render() -> str:
    schema = json.loads(SCHEMA.read_text())
    g = Gen(schema["definitions"])
    for name, s in schema["definitions"].items():
        g.definition(name, s)
    head = '''"""TypedDicts of landopp's documents: the configurations a caller writes (``Profile``,
``FeatureSpec``, ``Query``, ``Params``, ``TerrainOptions``, ...) and the results it reads (``Page``,
``Site``, ``ModelCard``, ``DriftReport``, ``Info``, ...), as plain dicts with the library's keys.

Generated from the Rust types (``python/types.schema.json``, written by
``core/tests/binding_types.rs``) by ``python/gen_types.py``: do not edit.
"""
from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
'''
    names = sorted(schema["definitions"])
    head += "".join(f"    {json.dumps(n)},\n" for n in names) + "]\n"
    return head + "\n\n" + "\n\n\n".join(g.out + g.alias_blocks()) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run python python/gen_types.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
