"""Smoke test of an installed landopp wheel, run by a Python with no Rust toolchain on PATH
(.ci/test-all.sh): the wheel is all a user needs."""
import pathlib
import shutil
import sys

assert shutil.which("cargo") is None and shutil.which("rustc") is None, "a Rust toolchain is on PATH"
import landopp  # noqa: E402

root = pathlib.Path(sys.argv[1])
assert "site-packages" in landopp.__file__, landopp.__file__
assert landopp._landopp.BUILD_PROFILE == "release"
# the wheel's one requirement is numpy: parcels come back as a dict of arrays without geopandas
parcels = landopp.read_parcels(root / "fixtures/slovenia/lulc_polygons.gpkg", id_field="index")
dem = landopp.read_raster(root / "fixtures/slovenia/dem.tif")
stats = landopp.zonal_stats(landopp.terrain(dem, "slope"), parcels, ["mean"])
assert len(stats["mean"]) == len(parcels["wkb"]) == 88, stats
print(f"landopp {landopp.__version__} from {pathlib.Path(landopp.__file__).parent}: "
      f"{len(parcels['wkb'])} parcels, mean slope {float(stats['mean'].mean()):.2f} deg; no cargo or rustc on PATH")
