"""Checks crossview's COCO RLE against pycocotools, the reference implementation.
Usage: check_rle.py CASES_JSON BITMAPS_BIN. Each case names a row-major uint8 bitmap in the
binary file and what crossview computed from it; every value must match pycocotools exactly."""
import json, sys
import numpy as np
from pycocotools import mask as mu

cases = json.load(open(sys.argv[1]))
blob = np.fromfile(sys.argv[2], dtype=np.uint8)
bad = []
bitmaps = {}
for c in cases:
    h, w = c["h"], c["w"]
    bm = blob[c["offset"]:c["offset"] + h * w].reshape(h, w)
    bitmaps[c["name"]] = bm
    ref = mu.encode(np.asfortranarray(bm))
    if ref["counts"].decode() != c["counts"]:
        bad.append(f"{c['name']}: counts differ: ours {c['counts'][:40]!r} ref {ref['counts'][:40]!r}")
        continue
    ours = {"size": [h, w], "counts": c["counts"].encode()}
    if not np.array_equal(mu.decode(ours), bm):
        bad.append(f"{c['name']}: our string decodes to another bitmap")
    if int(mu.area(ours)) != c["area"]:
        bad.append(f"{c['name']}: area {c['area']} vs {int(mu.area(ours))}")
    if [float(v) for v in mu.toBbox(ours)] != c["bbox_xywh"]:
        bad.append(f"{c['name']}: bbox {c['bbox_xywh']} vs {list(mu.toBbox(ours))}")
for c in cases:
    if c.get("iou_with") is None:
        continue
    other = next(o for o in cases if o["name"] == c["iou_with"])
    a = {"size": [c["h"], c["w"]], "counts": c["counts"].encode()}
    b = {"size": [other["h"], other["w"]], "counts": other["counts"].encode()}
    ref = float(mu.iou([a], [b], [0])[0][0])
    if abs(ref - c["iou"]) > 1e-12:
        bad.append(f"{c['name']}: iou {c['iou']} vs {ref}")
# Boxes and polygons rasterized the way frPyObjects does.
shapes = json.load(open(sys.argv[1].replace(".json", "_shapes.json")))
for s in shapes:
    h, w = s["h"], s["w"]
    # frPyObjects takes boxes [x, y, w, h] as an n x 4 array, polygons as lists.
    if s["kind"] == "box":
        ref = mu.frPyObjects(np.array([s["coords"]], dtype=np.float64), h, w)[0]
    else:
        ref = mu.frPyObjects([s["coords"]], h, w)[0]
    if ref["counts"].decode() != s["counts"]:
        bad.append(f"{s['kind']} {s['coords']}: ours {s['counts'][:40]!r} ref {ref['counts'][:40]!r}")
for b in bad[:20]:
    print("MISMATCH", b)
print(f"rle cases: {len(cases)}, shapes: {len(shapes)}, mismatches: {len(bad)}")
sys.exit(1 if bad else 0)
