"""Reads crossview's JSONL export the way the paper's loader does (formats/crossview_suite.md 3),
written apart from the project: options parsed with ^([A-Z])\\.\\s*(.*)$, the answer mapped to a
letter, region_refs resolved to view objects, masks decoded with pycocotools.
Usage: check_suite_jsonl.py FILE.jsonl [...]. Last line: the summary."""
import json, re, sys
from pycocotools import mask as mu

OPTION_RE = re.compile(r"^([A-Z])\.\s*(.*)$")
problems, rows, regions = [], 0, 0
for path in sys.argv[1:]:
    with open(path) as f:
        for n, line in enumerate(f, 1):
            rows += 1
            s = json.loads(line)
            where = f"{path}:{n}"
            for key in ("sample_id", "dataset", "question_type", "question", "options", "answer",
                        "views", "region_refs", "selected_object_names", "object_ids"):
                if key not in s:
                    problems.append(f"{where}: no {key}")
            scene = s.get("take_name") or s.get("scene") or s.get("scenario")
            if not scene:
                problems.append(f"{where}: no scene")
            if not re.fullmatch(r"Q([1-9]|1[0-7])", s["question_type"]):
                problems.append(f"{where}: question_type {s['question_type']}")
            views = s["views"]
            if len(views) < 2:
                problems.append(f"{where}: {len(views)} views")
            letters = []
            for o in s["options"]:
                m = OPTION_RE.match(o)
                if not m:
                    problems.append(f"{where}: option {o!r}")
                else:
                    letters.append(m.group(1))
            if s["options"]:
                if s["answer"] not in letters:
                    problems.append(f"{where}: answer {s['answer']!r} not among {letters}")
            elif not s["answer"]:
                problems.append(f"{where}: open-ended without an answer")
            if s["question"].count("<region>") != len(s["region_refs"]):
                problems.append(f"{where}: placeholders vs region_refs")
            for ref in s["region_refs"]:
                v, k = ref if isinstance(ref, list) else (ref.get("view_idx", ref.get("view")), ref.get("obj_idx", ref.get("obj")))
                try:
                    obj = views[v]["objects"][k]
                except (IndexError, KeyError, TypeError):
                    problems.append(f"{where}: ref {ref} resolves to nothing")
                    continue
                regions += 1
                rle = obj["mask_rle"]
                h, w = rle["size"]
                if (h, w) != (views[v]["height"], views[v]["width"]):
                    problems.append(f"{where}: mask size {h}x{w} vs view")
                m = mu.decode({"size": [h, w], "counts": rle["counts"].encode()})
                if m.sum() == 0:
                    problems.append(f"{where}: empty mask")
                x1, y1, x2, y2 = obj["bbox_xyxy"]
                bx, by, bw, bh = mu.toBbox({"size": [h, w], "counts": rle["counts"].encode()})
                if bx < x1 - 1 or by < y1 - 1 or bx + bw > x2 + 1 or by + bh > y2 + 1:
                    problems.append(f"{where}: mask outside bbox_xyxy")
            if len(s["object_ids"]) != len(s["selected_object_names"]):
                problems.append(f"{where}: object_ids vs names")
            if s["question_type"] in ("Q2", "Q9") and s.get("compute_infonce"):
                problems.append(f"{where}: compute_infonce on {s['question_type']}")
for p in problems[:20]:
    print("PROBLEM:", p)
print(f"suite jsonl: {rows} rows, {regions} regions, {len(problems)} problems")
sys.exit(1 if problems or rows == 0 else 0)
