"""The notebook-style example runs end to end on the bundled data and writes its map; the README
shows that map."""

import pathlib
import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("matplotlib")
pytest.importorskip("geopandas")


def test_score_and_map_example(tmp_path):
    out = tmp_path / "map.png"
    r = subprocess.run([sys.executable, str(ROOT / "examples/python/score_and_map.py"), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "#1 parcel" in r.stdout and "parcels match" in r.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_readme_shows_the_map():
    readme = (ROOT / "README.md").read_text()
    assert "docs/images/score_map.png" in readme
    assert pathlib.Path(ROOT / "docs/images/score_map.png").stat().st_size > 20_000
