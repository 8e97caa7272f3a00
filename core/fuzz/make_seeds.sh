#!/usr/bin/env bash
# Regenerate the fuzz seed corpus (fixtures/fuzz/<target>/seed-*) from the bundled fixtures.
# Needs gdal-bin (gdal_translate, ogr2ogr), python3 and a built `landopp` CLI (cargo build).
# Usage: bash core/fuzz/make_seeds.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
F=fixtures/fuzz
LANDOPP=${LANDOPP:-target/debug/landopp}
J=fixtures/jacksboro/jacksboro_fault_dem.tif
L=fixtures/olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif
O=fixtures/olinda/olinda_census_tracts.gpkg
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p $F/{geotiff,wkb,geojson,flatgeobuf,shapefile,geopackage,crs,model,config,relief,wkt}
rm -f $F/*/seed-*

# GeoTIFF: every layout, compression, predictor, sample type and byte order the reader handles
g() { gdal_translate -q "$@"; }
W="-srcwin 10 10 20 12"
g $W -co COMPRESS=LZW -co PREDICTOR=2 -co BLOCKYSIZE=5 $J $F/geotiff/seed-strips-lzw-pred2.tif
g $W -ot Float32 -a_nodata -9999 -co COMPRESS=DEFLATE -co PREDICTOR=3 -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 $J $F/geotiff/seed-tiled-deflate-pred3-f32.tif
g $W -ot Float64 -co COMPRESS=DEFLATE -co PREDICTOR=3 $J $F/geotiff/seed-deflate-pred3-f64.tif
g $W -co COMPRESS=PACKBITS $J $F/geotiff/seed-packbits.tif
g $W -ot Int32 -co COMPRESS=DEFLATE -co PREDICTOR=2 $J $F/geotiff/seed-i32-deflate-pred2.tif
g $W -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 $J $F/geotiff/seed-tiled-none.tif
g $W -ot UInt16 -co COMPRESS=LZW -co ENDIANNESS=BIG $J $F/geotiff/seed-bigendian-u16.tif
g -srcwin 100 100 12 10 -co COMPRESS=LZW -co INTERLEAVE=PIXEL $L $F/geotiff/seed-pixel-lzw-6band.tif
g -srcwin 100 100 12 10 -b 1 -b 2 -b 3 -co COMPRESS=DEFLATE -co INTERLEAVE=BAND -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 $L $F/geotiff/seed-planar-tiled-3band.tif
g -srcwin 100 100 12 10 -b 1 -co BIGTIFF=YES $L $F/geotiff/seed-bigtiff.tif
g -srcwin 0 0 40 40 -of COG -co BLOCKSIZE=16 -co COMPRESS=DEFLATE $J $F/geotiff/seed-cog-overviews.tif

# Vectors: three Olinda tracts, simplified, in every format
v() { ogr2ogr -q -limit 3 -simplify 200 "$@" 2>/dev/null; }
v -f FlatGeobuf $F/flatgeobuf/seed-olinda3-index.fgb $O
v -f FlatGeobuf -lco SPATIAL_INDEX=NO $F/flatgeobuf/seed-olinda3-noindex.fgb $O
v -f GPKG $T/o.gpkg $O
python3 - "$T/o.gpkg" $F/geopackage/seed-olinda3.gpkg <<'EOF'
import sqlite3, shutil, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA page_size=512"); c.execute("VACUUM"); c.close()
shutil.copy(sys.argv[1], sys.argv[2])
EOF
v -f GeoJSON $F/geojson/seed-olinda3.geojson $O
v -t_srs EPSG:4326 -f GeoJSON -lco RFC7946=YES $F/geojson/seed-olinda3-rfc7946.geojson $O
cp fixtures/formats/temporal.fgb $F/flatgeobuf/seed-temporal.fgb
cp fixtures/formats/temporal.geojson $F/geojson/seed-temporal.geojson
python3 -c 'import json,sys; d=json.load(open("fixtures/formats/temporal.geojson")); d["landopp:field_types"]={"sold":"date","updated":"datetime","naive":"datetime"}; print(json.dumps(d), end="")' > $F/geojson/seed-temporal-typed.geojson
v -f "ESRI Shapefile" $T/s.shp $O
python3 - "$T" <<'EOF'
import struct, sys, json
t = sys.argv[1]
def rd(e): return open(f"{t}/s.{e}", "rb").read()
shp, shx, dbf, prj = rd("shp"), rd("shx"), rd("dbf"), rd("prj")
# the packing of landopp_fuzz::pack_shapefile: three u32 lengths, the files, then the .prj
open("fixtures/fuzz/shapefile/seed-olinda3.bin", "wb").write(
    struct.pack("<III", len(shp), len(shx), len(dbf)) + shp + shx + dbf + prj)
open("fixtures/fuzz/shapefile/seed-olinda3-noprj.bin", "wb").write(
    struct.pack("<III", len(shp), len(shx), len(dbf)) + shp + shx + dbf)
# dates and date-times (fixtures/formats/temporal.*): DBF `D` fields
def tf(e): return open(f"fixtures/formats/temporal.{e}", "rb").read()
shp, shx, dbf, prj = tf("shp"), tf("shx"), tf("dbf"), tf("prj")
open("fixtures/fuzz/shapefile/seed-temporal.bin", "wb").write(
    struct.pack("<III", len(shp), len(shx), len(dbf)) + shp + shx + dbf + prj)

# WKB: every geometry type, ISO Z/M, EWKB with SRID, big-endian
def ring(pts): return struct.pack("<I", len(pts)) + b"".join(struct.pack("<dd", *p) for p in pts)
sq = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
hole = [(2, 2), (2, 4), (4, 4), (4, 2), (2, 2)]
poly = b"\x01" + struct.pack("<I", 3) + struct.pack("<I", 2) + ring(sq) + ring(hole)
seeds = {
    "point": b"\x01" + struct.pack("<Idd", 1, 1.5, 2.5),
    "polygon-hole": poly,
    "multipolygon": b"\x01" + struct.pack("<II", 6, 2) + poly + poly,
    "collection": b"\x01" + struct.pack("<II", 7, 2) + poly + b"\x01" + struct.pack("<II", 7, 1) + poly,
    "polygon-z": b"\x01" + struct.pack("<II", 1003, 1) + struct.pack("<I", 4)
        + b"".join(struct.pack("<ddd", x, y, 5.0) for x, y in [(0, 0), (1, 0), (1, 1), (0, 0)]),
    "ewkb-srid-bigendian": b"\x00" + struct.pack(">II", 0x20000003, 4326) + struct.pack(">I", 1) + struct.pack(">I", 4)
        + b"".join(struct.pack(">dd", x, y) for x, y in [(0, 0), (1, 0), (1, 1), (0, 0)]),
    "gpkg-blob-envelope": b"GP\x00\x03" + struct.pack("<i", 4326) + struct.pack("<4d", 0, 10, 0, 10) + poly,
}
for k, b in seeds.items():
    open(f"fixtures/fuzz/wkb/seed-{k}.wkb", "wb").write(b)

crs = {
    "epsg": "EPSG:32633",
    "urn": "urn:ogc:def:crs:EPSG::26847",
    "proj": "+proj=tmerc +lat_0=43.6666666666667 +lon_0=-68.5 +k=0.9999 +x_0=300000 +y_0=0 +ellps=GRS80 +towgs84=0,0,0 +units=us-ft +no_defs",
    "wkt1-utm": 'PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]',
    "wkt2-id": 'PROJCRS["NZGD2000 / New Zealand Transverse Mercator 2000",BASEGEOGCRS["NZGD2000",DATUM["New Zealand Geodetic Datum 2000",ELLIPSOID["GRS 1980",6378137,298.257222101]]],CONVERSION["New Zealand Transverse Mercator 2000",METHOD["Transverse Mercator"]],CS[Cartesian,2],ID["EPSG",2193]]',
    "esri-prj": open(f"{t}/s.prj").read(),
}
for k, s in crs.items():
    open(f"fixtures/fuzz/crs/seed-{k}.txt", "w").write(s)

# configs: a selector byte (0 profile, 1 feature spec, 2 model parameters, 3 search query), then text
def cfg(name, sel, text): open(f"fixtures/fuzz/config/seed-{name}.bin", "wb").write(bytes([sel]) + text.encode())
for p in ["solar_utility", "agriculture", "residential"]:
    cfg(f"profile-{p}", 0, open(f"core/presets/{p}.json").read())
cfg("spec", 1, json.dumps({"version": 1, "parcels": {"path": "p.gpkg", "id_field": "id"}, "features": [
    {"type": "shape"}, {"type": "terrain", "raster": "dem.tif", "product": "slope", "stats": ["mean", "quantile(q=0.9)"], "share_below": [8]},
    {"type": "zonal", "raster": "r.tif", "stats": ["majority", "frac"], "band": 1},
    {"type": "overlay", "layer": "z.gpkg", "field": "ZONE", "prefix": "zone"},
    {"type": "proximity", "layer": "roads.gpkg", "prefix": "road", "radius_m": 500}]}))
cfg("spec-toml", 1, 'version = 1\nparcels = { path = "p.gpkg" }\n[[features]]\ntype = "shape"\n')
cfg("params-rf", 2, '{"model": "random_forest", "task": "regression", "n_estimators": 10, "max_depth": 4}')
cfg("params-gb", 2, '{"model": "gradient_boosting", "task": "classification", "learning_rate": 0.1, "max_iter": 20}')
cfg("query", 3, json.dumps({"aoi": {"bbox": [14.55, 45.86, 14.575, 45.88]}, "crs": "EPSG:4326",
    "filters": [{"column": "slope_mean", "max": 12}, {"column": "zone", "in": ["A", "B"]}], "limit": 5}))

# relief: a selector byte (0 colour table, 1 terrain options, 2 colour relief options), then text
def rel(name, sel, text): open(f"fixtures/fuzz/relief/seed-{name}.bin", "wb").write(bytes([sel]) + text.encode())
rel("table-percent", 0, "nv 0 0 0 0\n0% 0 96 0\n25% 120 180 60\n50% yellow\n75% 160 100 40 200\n100% white\n")
rel("table-repeated", 0, "# absolute values, one repeated\n-100 0 0 255\n100 255 0 0\n100 0 255 0\n300,0,0,255,128\n800:brown:90\n")
rel("table-cpt", 0, "# COLOR_MODEL = RGB\n0 0 0 0 150 255 255 0\n150 255 255 0 400 255 0 0\nB 0 0 0\nF 255 255 255\nN 1 2 3\n")
rel("table-nan", 0, "nan 1 2 3\n-inf 4 5 6\n1e308 white\n-9999 black 0\n")
rel("terrain-options", 1, '{"alg": "ZevenbergenThorne", "hillshade": "igor", "z_factor": 2, "azimuth": 200, "altitude": 30, "compute_edges": false}')
rel("terrain-wilson", 1, '{"alg": "Wilson", "zero_for_flat": true, "trigonometric": true, "scale": 111120}')
rel("relief-options", 2, '{"mode": "exact_entry", "alpha": true, "band": 0}')
EOF

# Models: a small forest, boosting and linear model of the Slovenia parcels' shape features
$LANDOPP features <(printf '{"version":1,"parcels":{"path":"%s","id_field":"index"},"features":[{"type":"shape"}]}' "$PWD/fixtures/slovenia/lulc_polygons.gpkg") -o $T/f.csv >/dev/null
for m in random_forest gradient_boosting linear; do
  case $m in random_forest) P='{"max_depth": 3}';; gradient_boosting) P='{"max_depth": 3, "max_iter": 5}';; *) P='{}';; esac
  $LANDOPP train $T/f.csv --target area_acres --columns perimeter_m,polsby_popper --model $m --n-estimators 3 \
    --params "$P" --random-folds --k 2 -o $T/$m.json >/dev/null
  # selector byte 0: the model file as saved; 1: its payload (the harness wraps it in an envelope
  # with a valid checksum, so that mutations reach the model's structure)
  python3 -c 'import json, sys
text = open(sys.argv[1], "rb").read()
open(sys.argv[2] + ".bin", "wb").write(b"\x00" + text)
open(sys.argv[2] + "-payload.bin", "wb").write(b"\x01" + json.loads(text)["payload"].encode())' $T/$m.json $F/model/seed-$m
done
ls -la $F/*/seed-* | awk '{s+=$5} END {print NR " seeds, " s " bytes"}'

# WKT polygons as Soil Data Access (SQL Server STAsText) and PostGIS write them
printf 'POLYGON ((-68.77 44.8, -68.76 44.8, -68.76 44.81, -68.77 44.81, -68.77 44.8))' > $F/wkt/seed-polygon.txt
printf 'MULTIPOLYGON (((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1)), ((5 5, 6 5, 6 6, 5 5)))' > $F/wkt/seed-multipolygon-hole.txt
printf 'POLYGON Z ((0 0 1, 1 0 1, 1 1 2, 0 0 1))' > $F/wkt/seed-polygon-z.txt
printf 'MULTIPOLYGON EMPTY' > $F/wkt/seed-empty.txt
