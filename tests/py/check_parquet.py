"""Reads crossview Parquet with pyarrow and compares values and logical types with the
expectation JSON written beside each file. Usage: check_parquet.py DIR."""
import json, math, os, sys
import pyarrow as pa
import pyarrow.parquet as pq
from pycocotools import mask as mu

d = sys.argv[1]
bad = []

def same(a, b, path):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6):
            bad.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        for k in b:
            if k == "area":
                continue
            if k not in a:
                bad.append(f"{path}: missing key {k}")
            else:
                same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            bad.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif a != b:
        bad.append(f"{path}: {a!r} != {b!r}")

# QA shards: the contract's logical types.
t = pq.read_table(os.path.join(d, "qa.parquet"))
s = t.schema
want = {
    "sample_id": pa.string(), "task": pa.string(), "category": pa.string(), "source": pa.string(),
    "scene_id": pa.string(), "split": pa.string(), "question": pa.string(),
    "answer_index": pa.int32(), "answer": pa.string(), "open_ended": pa.bool_(),
}
for k, v in want.items():
    if s.field(k).type != v:
        bad.append(f"qa.{k}: type {s.field(k).type} != {v}")
if not pa.types.is_list(s.field("options").type) or s.field("options").type.value_type != pa.string():
    bad.append(f"qa.options: {s.field('options').type}")
reg = s.field("regions").type.value_type
if reg.field("bbox").type != pa.list_(pa.float32(), 4):
    bad.append(f"regions.bbox: {reg.field('bbox').type}")
if reg.field("mask_counts").type != pa.string():
    bad.append(f"regions.mask_counts: {reg.field('mask_counts').type}")
view = s.field("views").type.value_type
for k in ["view_id", "frame_id", "image"]:
    if view.field(k).type != pa.string():
        bad.append(f"views.{k}: {view.field(k).type}")
meta = pq.read_metadata(os.path.join(d, "qa.parquet")).metadata
for k, v in [(b"crossview.record", b"qa_sample"), (b"crossview.schema_version", b"1"), (b"crossview.config_hash", b"feedface")]:
    if meta.get(k) != v:
        bad.append(f"metadata {k}: {meta.get(k)!r}")
rows = t.to_pylist()
exp = json.load(open(os.path.join(d, "qa.json")))
same(rows, exp, "qa")
for i, (r, e) in enumerate(zip(rows, exp)):
    for g, ge in zip(r["regions"], e["regions"]):
        h, w = g["mask_size"]
        m = mu.decode({"size": [h, w], "counts": g["mask_counts"].encode()})
        if int(m.sum()) != ge["area"]:
            bad.append(f"qa[{i}] mask area {int(m.sum())} != {ge['area']}")

t = pq.read_table(os.path.join(d, "observations.parquet"))
same(t.to_pylist(), json.load(open(os.path.join(d, "observations.json"))), "observations")
if t.schema.field("frame_index").type != pa.uint32():
    bad.append(f"observations.frame_index: {t.schema.field('frame_index').type}")

for b in bad[:30]:
    print("MISMATCH", b)
print("parquet interop: " + ("ok" if not bad else f"{len(bad)} mismatches"))
sys.exit(1 if bad else 0)
