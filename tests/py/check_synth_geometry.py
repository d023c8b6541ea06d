"""Independent geometry check of a `crossview synth` tree: reads the native calibration and labels
the way ../shared/formats/ specify (numpy only, none of crossview's camera code) and compares them
with the `_truth/` sidecar:
  - each truth probe point (a visible 3D surface point) projects onto its rendered pixel (< 1 px),
    and the truth modal mask is set at that pixel;
  - camera centres from the native extrinsics match the truth cameras (< 1 mm);
  - native boxes are tight around the truth modal masks, in the source's box convention.
Usage: check_synth_geometry.py TREE (one profile's tree). Prints a summary; exit 1 on failure."""
import glob, json, math, os, sys
import numpy as np
import pyarrow.parquet as pq
from pycocotools import mask as mu

root = sys.argv[1]
truth = lambda name: pq.read_table(os.path.join(root, "_truth", name + ".parquet")).to_pylist()
obs = truth("observations")
cams = {(c["scene_id"], c["camera_id"]): c for c in truth("cameras")}
bad = []
stats = {"probes": 0, "centres": 0, "boxes": 0}


def rot_xyz(rx, ry, rz):
    """scipy Rotation.from_euler('xyz', [rx, ry, rz]): extrinsic x, then y, then z."""
    cx, sx, cy, sy, cz, sz = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def truth_centre(c):
    R = np.array(c["rotation"]).reshape(3, 3)  # world-to-camera, row-major
    return -R.T @ np.array(c["translation"])


def check_probe(o, project):
    if o["probe_world"] is None:
        return
    uv = project(np.array(o["probe_world"]))
    if uv is None:
        bad.append(f"{o['scene_id']} cam {o['camera_id']} inst {o['instance_id']}: probe behind camera")
        return
    d = math.hypot(uv[0] - o["probe_pixel"][0], uv[1] - o["probe_pixel"][1])
    if d > 1.0:
        bad.append(f"{o['scene_id']} cam {o['camera_id']} inst {o['instance_id']}: probe off by {d:.2f} px")
    if o["modal_counts"] is not None:
        h, w = o["mask_size"]
        m = mu.decode({"size": [h, w], "counts": o["modal_counts"].encode()})
        col, row = int(o["probe_pixel"][0]), int(o["probe_pixel"][1])
        if not m[row, col]:
            bad.append(f"{o['scene_id']} cam {o['camera_id']} inst {o['instance_id']}: probe pixel not in modal mask")
    stats["probes"] += 1


def tight_box(o, box_xyxy_exclusive):
    """The native box, converted to exclusive xyxy, against the truth modal mask's tight box."""
    if o["modal_counts"] is None:
        return
    h, w = o["mask_size"]
    x, y, bw, bh = mu.toBbox({"size": [h, w], "counts": o["modal_counts"].encode()})
    ref = [x, y, x + bw, y + bh]
    if max(abs(a - b) for a, b in zip(ref, box_xyxy_exclusive)) > 0.51:
        bad.append(f"{o['scene_id']} cam {o['camera_id']} inst {o['instance_id']}: box {box_xyxy_exclusive} vs mask {ref}")
    stats["boxes"] += 1


def messytable():
    for lf in sorted(glob.glob(os.path.join(root, "labels", "*.json"))):
        j = json.load(open(lf))
        K = {cam: np.array(v, dtype=float).reshape(3, 3) for cam, v in j["intrinsics"].items()}
        for scene, s in j["scenes"].items():
            sid = "messytable/" + scene
            for cam, c in s["cameras"].items():
                t, (rx, ry, rz) = np.array(c["extrinsics"][:3]), c["extrinsics"][3:]
                R = rot_xyz(rx, ry, rz)  # camera -> reference
                if np.linalg.norm(t - truth_centre(cams[(sid, cam)])) > 1e-3:
                    bad.append(f"{sid} cam {cam}: centre {t} vs truth {truth_centre(cams[(sid, cam)])}")
                stats["centres"] += 1

                def project(X, R=R, t=t, K=K[cam]):
                    p = R.T @ (X - t)
                    if p[2] <= 0:
                        return None
                    uv = K @ (p / p[2])
                    return uv[0], uv[1]

                labelled = c["instances"]
                for o in by_view.get((sid, cam, 0), []):
                    check_probe(o, project)
                    if o["instance_id"] in labelled:
                        x1, y1, x2, y2 = labelled[o["instance_id"]]["pos"]
                        tight_box(o, [x1, y1, x2 + 1, y2 + 1])  # inclusive -> exclusive
                    elif o["annotated"]:
                        bad.append(f"{sid} cam {cam}: annotated instance {o['instance_id']} missing from labels")
                for inst in labelled:
                    if not any(o["instance_id"] == inst and o["annotated"] for o in by_view.get((sid, cam, 0), [])):
                        bad.append(f"{sid} cam {cam}: labelled instance {inst} not visible in truth")


def mmptrack():
    for cf in sorted(glob.glob(os.path.join(root, "*", "calibrations", "*", "calibrations.json"))):
        split, env = cf.split(os.sep)[-4], cf.split(os.sep)[-2]
        calib = json.load(open(cf))
        space = calib["Space"]
        cams_by_id = {}
        for c in calib["Cameras"]:
            R = np.array(c["ExtrinsicParameters"]["Rotation"], dtype=float).reshape(3, 3)  # camera -> world
            T = np.array(c["ExtrinsicParameters"]["Translation"], dtype=float)  # camera centre, mm
            p = c["IntrinsicParameters"]
            cams_by_id[str(c["CameraId"])] = (R, T, p)
        for label_dir in sorted(glob.glob(os.path.join(root, split, "labels", "*", env + "_*"))):
            scene = os.path.basename(label_dir)
            session = os.path.basename(os.path.dirname(label_dir))
            sid = "mmptrack/" + session + "/" + scene
            for cam, (R, T, p) in cams_by_id.items():
                if np.linalg.norm(T / 1000.0 - truth_centre(cams[(sid, cam)])) > 1e-3:
                    bad.append(f"{sid} cam {cam}: centre {T} mm vs truth {truth_centre(cams[(sid, cam)])} m")
                stats["centres"] += 1

                def project(X, R=R, T=T, p=p):
                    uvw = np.linalg.inv(R) @ (X * 1000.0 - T)  # organiser-style formula, mm
                    if uvw[2] <= 0:
                        return None
                    return uvw[0] / uvw[2] * p["Fx"] + p["Cx"], uvw[1] / uvw[2] * p["Fy"] + p["Cy"]

                for lf in sorted(glob.glob(os.path.join(label_dir, f"rgb_*_{cam}.json"))):
                    frame = int(os.path.basename(lf).split("_")[1])
                    boxes = json.load(open(lf))
                    views = by_view.get((sid, cam, frame), [])
                    for o in views:
                        check_probe(o, project)
                        b = boxes.get(o["instance_id"])
                        if o["annotated"] != (b is not None):
                            bad.append(f"{sid} cam {cam} frame {frame}: person {o['instance_id']} annotated={o['annotated']} but box={b}")
                        # Projected 3D boxes are loose: they must contain the visible pixels.
                        if b is not None and o["bbox"] is not None:
                            x1, y1, x2, y2 = o["bbox"]
                            if x1 < b[0] - 2 or y1 < b[1] - 2 or x2 > b[2] + 2 or y2 > b[3] + 2:
                                bad.append(f"{sid} cam {cam} frame {frame}: person {o['instance_id']} box {b} misses visible {o['bbox']}")
                            stats["boxes"] += 1
            # Top-down points: grid -> world (section 5) lands under the truth body centre.
            states = {(st["frame_index"], st["instance_id"]): st for st in truth_states if st["scene_id"] == sid}
            fx = (math.floor((space["MaxU"] - space["MinU"]) / space["VoxelSizeInMM"]) - 1) / (space["MaxU"] - space["MinU"])
            fy = (math.floor((space["MaxV"] - space["MinV"]) / space["VoxelSizeInMM"]) - 1) / (space["MaxV"] - space["MinV"])
            for tf in sorted(glob.glob(os.path.join(root, split, "topdown_labels", "*", scene, "topdown_*.csv"))):
                frame = int(os.path.basename(tf)[8:13])
                for line in open(tf):
                    pid, gy, gx = line.strip().split(",")
                    u, v = float(gx) / fx + space["MinU"], float(gy) / fy + space["MinV"]
                    st = states[(frame, pid)]
                    if math.hypot(u / 1000.0 - st["position"][0], v / 1000.0 - st["position"][1]) > 0.01:
                        bad.append(f"{sid} frame {frame} person {pid}: top-down ({u}, {v}) mm vs truth {st['position']}")


def quat_wxyz_to_R(w, x, y, z):
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def egohumans():
    frames_truth = {(f["scene_id"], f["camera_id"], f["frame_index"]): f for f in truth("frames")}
    for seq_dir in sorted(glob.glob(os.path.join(root, "[0-9][0-9]_*", "[0-9][0-9][0-9]_*"))):
        native = os.path.relpath(seq_dir, root)
        sid = "egohumans/" + native
        ws = os.path.join(seq_dir, "colmap", "workplace")
        c2a = {k: np.array(v) for k, v in json.load(open(os.path.join(ws, "colmap_from_aria_transforms.json"))).items()}
        P = c2a["aria01"]  # anchor world -> COLMAP
        intr = {}
        for line in open(os.path.join(ws, "cameras.txt")):
            if line.startswith("#") or not line.strip():
                continue
            f = line.split()
            intr[f[0]] = (f[1], [float(v) for v in f[4:]])
        lines = [l for l in open(os.path.join(ws, "images.txt")) if not l.startswith("#")]
        projectors = {}
        for line in lines[0::2]:
            f = line.split()
            if len(f) < 10:
                continue
            R = quat_wxyz_to_R(*map(float, f[1:5]))
            t = np.array(list(map(float, f[5:8])))
            cam = f[9].split("/")[0]
            model, (fx, fy, cx, cy, k1, k2, k3, k4) = intr[f[8]]
            assert model == "OPENCV_FISHEYE", model
            E = np.eye(4)
            E[:3, :3], E[:3, 3] = R, t
            E = E @ P  # anchor world -> camera (a similarity: projection ignores the scale)
            centre = np.linalg.inv(E) @ np.array([0, 0, 0, 1.0])
            if np.linalg.norm(centre[:3] / centre[3] - truth_centre(cams[(sid, cam)])) > 1e-3:
                bad.append(f"{sid} {cam}: centre {centre[:3]} vs truth {truth_centre(cams[(sid, cam)])}")
            stats["centres"] += 1

            def project(X, E=E, k=(k1, k2, k3, k4), fx=fx, fy=fy, cx=cx, cy=cy):
                p = E @ np.append(X, 1.0)
                if p[2] <= 0:
                    return None
                a, b = p[0] / p[2], p[1] / p[2]
                r = math.hypot(a, b)
                th = math.atan(r)
                thd = th * (1 + k[0] * th**2 + k[1] * th**4 + k[2] * th**6 + k[3] * th**8)
                s_ = thd / r if r > 1e-12 else 1.0
                return fx * s_ * a + cx, fy * s_ * b + cy

            projectors[cam] = lambda frame, X, project=project: project(X)
        for aria_dir in sorted(glob.glob(os.path.join(seq_dir, "ego", "aria*"))):
            aria = os.path.basename(aria_dir)
            to_anchor_world = np.linalg.inv(c2a[aria]) @ P  # anchor world -> Aria's own world

            def project(frame, X, aria_dir=aria_dir, aria=aria, to_own=to_anchor_world):
                L = open(os.path.join(aria_dir, "calib", f"{frame + 1:05d}.txt")).read().split("\n")
                assert L[1].strip() == aria, L[1]
                iv = [float(v) for v in L[2].split()]
                ext = np.array([float(v) for v in L[3].split()]).reshape(4, 3).T  # column-major 3x4
                E = np.vstack([ext, [0, 0, 0, 1]]) @ to_own
                p = E @ np.append(X, 1.0)
                if p[2] <= 0:
                    return None
                f, cu, cv, k, pp, sp = iv[0], iv[1], iv[2], iv[3:9], iv[9:11], iv[11:15]
                a, b = p[0] / p[2], p[1] / p[2]
                r = math.hypot(a, b)
                th = math.atan(r)
                thd = th * (1 + sum(k[i] * th ** (2 * i + 2) for i in range(6)))
                xr = np.array([a, b]) * (thd / r if r > 1e-12 else 1.0)
                r2 = xr @ xr
                # EgoHumans' element-wise tangential term, then thin prism.
                u = xr[0] + 2 * xr[0] ** 2 * pp[0] + r2 * pp[0] + sp[0] * r2 + sp[1] * r2 * r2
                v = xr[1] + 2 * xr[1] ** 2 * pp[1] + r2 * pp[1] + sp[2] * r2 + sp[3] * r2 * r2
                return f * u + cu, f * v + cv

            def upright(frame, X, project=project, aria=aria):
                xy = project(frame, X)
                if xy is None:
                    return None
                Hs = image_width[(sid, aria)]  # the sensor's height is the upright image's width
                return Hs - xy[1], xy[0]  # VRS -> upright: x_up = H - y, y_up = x

            projectors[aria] = upright
            for fr in range(len(glob.glob(os.path.join(aria_dir, "calib", "*.txt")))):
                E_pose = frames_truth[(sid, aria, fr)]
                R = np.array(E_pose["rotation"]).reshape(3, 3)
                c_truth = -R.T @ np.array(E_pose["translation"])
                L = open(os.path.join(aria_dir, "calib", f"{fr + 1:05d}.txt")).read().split("\n")
                ext = np.array([float(v) for v in L[3].split()]).reshape(4, 3).T
                E = np.vstack([ext, [0, 0, 0, 1]]) @ to_anchor_world
                c = np.linalg.inv(E) @ np.array([0, 0, 0, 1.0])
                if np.linalg.norm(c[:3] - c_truth) > 1e-3:
                    bad.append(f"{sid} {aria} frame {fr}: centre {c[:3]} vs truth {c_truth}")
                stats["centres"] += 1
        for (scene, cam, frame), views in by_view.items():
            if scene != sid:
                continue
            for o in views:
                check_probe(o, lambda X, cam=cam, frame=frame: projectors[cam](frame, X))
        projectors_by_scene[sid] = projectors
    # Benchmark COCO keypoints against the projected truth keypoints (v = 2 only).
    states = {(st["scene_id"], st["frame_index"], st["instance_id"]): st for st in truth_states}
    for cf in sorted(glob.glob(os.path.join(root, "benchmark", "*", "all", "coco", "person_keypoints_*.json"))):
        j = json.load(open(cf))
        images = {im["id"]: im for im in j["images"]}
        for a in j["annotations"]:
            im = images[a["image_id"]]
            parts = im["file_name"].split("/")
            sid = "egohumans/" + "/".join(parts[:2])
            frame = a["time_stamp"] - 1
            st = states[(sid, frame, a["human_name"])]
            k = a["keypoints"]
            for i in range(17):
                if k[3 * i + 2] != 2:
                    continue
                uv = projectors_by_scene[sid][a["camera_name"]](frame, np.array(st["keypoints"][3 * i:3 * i + 3]))
                if uv is None or abs(uv[0] - k[3 * i]) > 1.0 or abs(uv[1] - k[3 * i + 1]) > 1.0:
                    bad.append(f"{sid} {a['camera_name']} t={a['time_stamp']} {a['human_name']} kp {i}: {k[3*i:3*i+2]} vs {uv}")
            # The box is the keypoint extent scaled 1.4x (formats/egohumans.md 5.1).
            vis = [(k[3 * i], k[3 * i + 1]) for i in range(17) if k[3 * i + 2] == 2]
            xs, ys = [p[0] for p in vis], [p[1] for p in vis]
            w = (max(xs) - min(xs)) * 1.4
            if abs(a["bbox"][2] - w) > 2.5:
                bad.append(f"{sid} {a['camera_name']} {a['human_name']}: bbox width {a['bbox'][2]} vs 1.4 x extent {w}")
            stats["boxes"] += 1


def kb3(p, fx, fy, cx, cy, k):
    if p[2] <= 0:
        return None
    a, b = p[0] / p[2], p[1] / p[2]
    r = math.hypot(a, b)
    th = math.atan(r)
    thd = th * (1 + k[0] * th**2 + k[1] * th**4 + k[2] * th**6 + k[3] * th**8)
    s_ = thd / r if r > 1e-12 else 1.0
    return fx * s_ * a + cx, fy * s_ * b + cy


def egoexo4d():
    import csv
    import lzstring
    L = lzstring.LZString()
    takes = json.load(open(os.path.join(root, "takes.json")))
    frames_truth = {(f["scene_id"], f["camera_id"], f["frame_index"]): f for f in truth("frames")}
    relations = {}
    for rf in glob.glob(os.path.join(root, "annotations", "relations_*.json")):
        relations.update(json.load(open(rf))["annotations"])
    for take in takes:
        sid = "egoexo4d/" + take["take_name"]
        tdir = os.path.join(root, take["root_dir"])
        projectors = {}
        for row in csv.DictReader(open(os.path.join(tdir, "trajectory", "gopro_calibs.csv"))):
            c = np.array([float(row["tx_world_cam"]), float(row["ty_world_cam"]), float(row["tz_world_cam"])])
            qx, qy, qz, qw = (float(row[f"q{a}_world_cam"]) for a in "xyzw")
            R = quat_wxyz_to_R(qw, qx, qy, qz)  # camera -> world (T_world_cam)
            it = [float(row[f"intrinsics_{i}"]) for i in range(8)]
            cam = row["cam_uid"]
            if np.linalg.norm(c - truth_centre(cams[(sid, cam)])) > 1e-3:
                bad.append(f"{sid} {cam}: centre {c} vs truth {truth_centre(cams[(sid, cam)])}")
            stats["centres"] += 1
            projectors[cam] = lambda frame, X, R=R, c=c, it=it: kb3(R.T @ (X - c), it[0], it[1], it[2], it[3], it[4:8])
        calib = json.loads(open(os.path.join(tdir, "trajectory", "online_calibration.jsonl")).readline())
        rgb = next(cc for cc in calib["CameraCalibrations"] if cc["Label"] == "camera-rgb")
        prm = rgb["Projection"]["Params"]
        poses = json.load(open(glob.glob(os.path.join(root, "annotations", "ego_pose", "*", "camera_pose", take["take_uid"] + ".json"))[0]))
        aria = next(k for k in poses if k.startswith("aria"))

        def project_ego(frame, X, prm=prm, ext=poses[aria]["camera_extrinsics"], width=image_width[(sid, aria)]):
            E = np.array(ext[str(frame)])  # 3x4 world -> camera (VRS orientation)
            p = E[:, :3] @ X + E[:, 3]
            if p[2] <= 0:
                return None
            f, cu, cv, k, pp, sp = prm[0], prm[1], prm[2], prm[3:9], prm[9:11], prm[11:15]
            a, b = p[0] / p[2], p[1] / p[2]
            r = math.hypot(a, b)
            th = math.atan(r)
            thd = th * (1 + sum(k[i] * th ** (2 * i + 2) for i in range(6)))
            xr = np.array([a, b]) * (thd / r if r > 1e-12 else 1.0)
            r2 = xr @ xr
            uv = xr + 2 * (xr @ pp) * xr + r2 * np.array(pp)  # Aria's reference tangential term
            uv = uv + np.array([sp[0] * r2 + sp[1] * r2 * r2, sp[2] * r2 + sp[3] * r2 * r2])
            x_s, y_s = f * uv[0] + cu, f * uv[1] + cv
            return width - y_s, x_s  # the MP4 is upright: VRS rotated 90 degrees clockwise

        projectors[aria] = project_ego
        for fr, E in poses[aria]["camera_extrinsics"].items():
            E = np.array(E)
            c = -E[:, :3].T @ E[:, 3]
            t = frames_truth[(sid, aria, int(fr))] if (sid, aria, int(fr)) in frames_truth else None
            if t is not None:
                Rt = np.array(t["rotation"]).reshape(3, 3)
                if np.linalg.norm(c - (-Rt.T @ np.array(t["translation"]))) > 1e-3:
                    bad.append(f"{sid} {aria} frame {fr}: centre mismatch")
                stats["centres"] += 1
        for (scene, cam, frame), views in by_view.items():
            if scene == sid:
                for o in views:
                    if o["instance_id"] != "wearer":
                        check_probe(o, lambda X, cam=cam, frame=frame: projectors[cam](frame, X))
        # Relations masks equal the truth's visible masks; listed frames without one are
        # frames where the object is not visible.
        rel = relations[take["take_uid"]]
        for obj, per_cam in rel["object_masks"].items():
            for key, c in per_cam.items():
                cam = key.split("_")[0]
                for fr in c["annotated_frames"]:
                    ann = c["annotation"].get(str(fr))
                    o = next((o for o in by_view.get((sid, cam, fr), []) if o["instance_id"] == obj), None)
                    if ann is None:
                        if o is not None and o["modal_area"] > 0:
                            bad.append(f"{sid} {obj} {key} frame {fr}: visible in truth but not annotated")
                        continue
                    counts = L.decompressFromEncodedURIComponent(ann["encodedMask"])
                    m = mu.decode({"size": [ann["height"], ann["width"]], "counts": counts.encode()})
                    ref = mu.decode({"size": o["mask_size"], "counts": o["modal_counts"].encode()})
                    if not np.array_equal(m, ref):
                        bad.append(f"{sid} {obj} {key} frame {fr}: mask differs from truth")
                    stats["boxes"] += 1
        for b in rel["object_names"]["annotation"]:
            o = next(o for o in by_view[(sid, aria, b["frameNumber"])] if o["instance_id"] == b["track_id"])
            x1, y1, x2, y2 = o["bbox"]
            if max(abs(b["x"] - x1), abs(b["y"] - y1), abs(b["x"] + b["width"] - x2), abs(b["y"] + b["height"] - y2)) > 0.01:
                bad.append(f"{sid} ego box of {b['track_id']}: {b} vs {o['bbox']}")
        # Frame-aligned videos decode (ffmpeg via PyAV) at the calibrated size.
        try:
            import av
        except ImportError:
            bad.append("PyAV (pip install av) is needed to check the videos")
            continue
        for cam_id, streams in take["frame_aligned_videos"].items():
            for st in streams.values():
                if st["relative_path"] is None:
                    continue
                path = os.path.join(tdir, st["relative_path"])
                if not os.path.exists(path):
                    continue  # annotation-only tree (synth --no-images)
                with av.open(path) as c:
                    vs = c.streams.video[0]
                    n = sum(1 for _ in c.decode(video=0))
                if (vs.width, vs.height) != (image_width[(sid, cam_id)], image_height[(sid, cam_id)]):
                    bad.append(f"{path}: {vs.width}x{vs.height} vs calibrated size")
                if n != round(take["duration_sec"] * 30):
                    bad.append(f"{path}: {n} frames for {take['duration_sec']} s")


projectors_by_scene = {}
truth_states = truth("states")
image_width = {(c["scene_id"], c["camera_id"]): c["width"] for c in truth("cameras")}
image_height = {(c["scene_id"], c["camera_id"]): c["height"] for c in truth("cameras")}
by_view = {}
for o in obs:
    by_view.setdefault((o["scene_id"], o["camera_id"], o["frame_index"]), []).append(o)
kind = next(iter(cams))[0].split("/")[0] if cams else None
{"messytable": messytable, "mmptrack": mmptrack, "egohumans": egohumans, "egoexo4d": egoexo4d}[kind]()
for b in bad[:25]:
    print("BAD", b)
print(f"synth geometry ({kind}): {stats['probes']} probes, {stats['centres']} camera centres, "
      f"{stats['boxes']} boxes checked, {len(bad)} problems")
sys.exit(1 if bad or stats["probes"] == 0 else 0)
