"""The three documented presets run end to end on the Bangor layers."""

import json

import numpy as np
import pytest

import landopp
from conftest import ROOT


@pytest.fixture(scope="module")
def bangor_features(shared):
    return landopp.features(ROOT / "benches/compare/city_features.json")


@pytest.mark.parametrize("preset", ["solar_utility", "residential", "agriculture"])
def test_preset_end_to_end(bangor_features, preset):
    profile = json.loads((ROOT / f"core/presets/{preset}.json").read_text())
    r = landopp.score(bangor_features, profile)
    assert len(r) == len(bangor_features)
    top = r.sort_values("rank").head(10)
    assert (~top["excluded"]).all() and (top["score"] > 0).all()
    assert top["score"].is_monotonic_decreasing
    for ex, s in zip(top["explanation"], top["score"]):
        assert sum(c["contribution"] for c in ex) == pytest.approx(s, abs=1e-12)
    assert r["excluded"].sum() > 0 or preset == "agriculture"
    assert np.nanmax(r["buildable_acres"] - bangor_features["area_acres"]) <= 1e-9
