"""The README's Python quickstart runs as written (from the repository root)."""

import os
import re

from conftest import ROOT


def test_readme_python_blocks_run(monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    # blocks that need the internet (live services) are compiled, not run: no test goes online
    online = re.findall(r"```python network\n(.*?)```", text, flags=re.S)
    assert online
    for code in online:
        compile(code, "README.md", "exec")
