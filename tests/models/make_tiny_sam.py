#!/usr/bin/env python3
"""Writes tiny SAM-style ONNX model pairs for the tests, in both export conventions.

    python3 tests/models/make_tiny_sam.py [OUT_DIR]     (default: beside this script)

Each pair has the exact input and output names, ranks and sizes of the real exports that
crossview's OnnxSegmenter reads, but a computation small enough to commit:

* SAM 2 (`tiny_sam2.encoder.onnx`, `tiny_sam2.decoder.onnx`), as the SAM 2 image-predictor
  export: encoder `image` [1,3,1024,1024] -> `high_res_feats_0` [1,32,256,256],
  `high_res_feats_1` [1,64,128,128], `image_embed` [1,256,64,64]; decoder `image_embed`,
  `high_res_feats_0`, `high_res_feats_1`, `point_coords` [N,P,2], `point_labels` [N,P],
  `mask_input` [N,1,256,256], `has_mask_input` [N] -> `masks` [N,3,256,256] (logits),
  `iou_predictions` [N,3].
* SAM 1 (`tiny_sam1.encoder.onnx`, `tiny_sam1.decoder.onnx`), as segment-anything's
  `export_onnx_model.py` decoder: `image_embeddings` [1,256,64,64], `point_coords` [1,P,2],
  `point_labels` [1,P], `mask_input` [1,1,256,256], `has_mask_input` [1], `orig_im_size` [2]
  -> `masks`, `iou_predictions` [1,4], `low_res_masks` [1,4,256,256]. The batch is fixed at
  one prompt, as in that export. (`masks` holds the same low-resolution logits as
  `low_res_masks` here; a real export upsamples them to `orig_im_size`, and the client reads
  `low_res_masks` when there is one.)

What they compute: the encoder is a 16x16 patch embedding of the normalised image (as SAM's
ViT and Hiera start), whose first channels carry the image's colour at 1/4 resolution; the
decoder takes the box prompt (point labels 2 and 3), the mean colour of the middle of the box
and of a ring around it, and scores each cell of the box by which of the two its colour is
nearer; the multimask outputs differ by a bias, and the "predicted IoU" grows with the
colour contrast and prefers masks filling about 60% of the box. Points with other labels
are accepted and ignored. Weights are generated inside the graph (Range, Sin), so the files
stay a few kilobytes; ONNX Runtime folds them into constants when a session opens.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
SIDE = 1024
LOW = 256  # mask and high-res feature side
EMBED = 64  # embedding side
PATCH = SIDE // EMBED  # 16


class Graph:
    """A small builder over onnx.helper that names nodes and constants uniquely."""

    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, dtype=np.float32):
        arr = np.asarray(value, dtype=dtype)
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def patch_weights(g, out_channels, first_colour):
    """Conv weights [out_channels, 3, 16, 16]: when `first_colour`, channels 0..2 average
    their own colour over the patch; the others are a fixed pseudo-random pattern (generated
    in the graph, so the file stays small)."""
    count = out_channels * 3 * PATCH * PATCH
    rng = g.op("Range", [g.const(0.0), g.const(float(count)), g.const(1.0)])
    wave = g.op("Sin", [g.op("Mul", [rng, g.const(0.7071)])])
    flat = g.op("Mul", [wave, g.const(0.05)])
    w = g.op("Reshape", [flat, g.const([out_channels, 3, PATCH, PATCH], np.int64)])
    if not first_colour:
        return w
    mean = np.zeros((3, 3, PATCH, PATCH), np.float32)
    for c in range(3):
        mean[c, c] = 1.0 / (PATCH * PATCH)
    rest = g.op("Slice", [w, g.const([3], np.int64), g.const([out_channels], np.int64), g.const([0], np.int64)])
    return g.op("Concat", [g.const(mean), rest], axis=0)


def decoder_core(g, colour, coords, labels):
    """From colour [1,3,256,256] (normalised, 4x downsampled) and prompts, the mask logits
    [N,K,256,256] for K = 3 biases and their predicted IoUs [N,3]."""
    # Prompt box corners (labels 2 and 3), in model-input pixels: [N,1,1,1] each.
    def corner(label, axis):
        is_l = g.op("Cast", [g.op("Equal", [labels, g.const(float(label))])], to=TensorProto.FLOAT)
        xy = g.op("Squeeze", [g.op("Slice", [coords, g.const([axis], np.int64), g.const([axis + 1], np.int64), g.const([2], np.int64)]), g.const([2], np.int64)])
        s = g.op("ReduceSum", [g.op("Mul", [xy, is_l]), g.const([1], np.int64)], keepdims=1)
        n = g.op("Max", [g.op("ReduceSum", [is_l, g.const([1], np.int64)], keepdims=1), g.const(1.0)])
        return g.op("Reshape", [g.op("Div", [s, n]), g.const([-1, 1, 1, 1], np.int64)])

    x0, y0, x1, y1 = corner(2, 0), corner(2, 1), corner(3, 0), corner(3, 1)
    centres = (np.arange(LOW, dtype=np.float32) + 0.5) * (SIDE / LOW)
    gx = g.const(centres.reshape(1, 1, 1, LOW))
    gy = g.const(centres.reshape(1, 1, LOW, 1))

    def inside(ax0, ay0, ax1, ay1):
        conds = [
            g.op("GreaterOrEqual", [gx, ax0]),
            g.op("Less", [gx, ax1]),
            g.op("GreaterOrEqual", [gy, ay0]),
            g.op("Less", [gy, ay1]),
        ]
        both = g.op("And", [g.op("And", [conds[0], conds[1]]), g.op("And", [conds[2], conds[3]])])
        return g.op("Cast", [both], to=TensorProto.FLOAT)  # [N,1,256,256]

    cx = g.op("Mul", [g.op("Add", [x0, x1]), g.const(0.5)])
    cy = g.op("Mul", [g.op("Add", [y0, y1]), g.const(0.5)])
    hw = g.op("Mul", [g.op("Sub", [x1, x0]), g.const(0.5)])
    hh = g.op("Mul", [g.op("Sub", [y1, y0]), g.const(0.5)])

    def scaled(f, ax0=None):
        return (
            g.op("Sub", [cx, g.op("Mul", [hw, g.const(f)])]),
            g.op("Sub", [cy, g.op("Mul", [hh, g.const(f)])]),
            g.op("Add", [cx, g.op("Mul", [hw, g.const(f)])]),
            g.op("Add", [cy, g.op("Mul", [hh, g.const(f)])]),
        )

    box = inside(x0, y0, x1, y1)
    middle = inside(*scaled(0.4))
    around = g.op("Sub", [inside(*scaled(1.5)), box])

    def mean_colour(region):  # [N,3,1,1]
        s = g.op("ReduceSum", [g.op("Mul", [colour, region]), g.const([2, 3], np.int64)], keepdims=1)
        n = g.op("Max", [g.op("ReduceSum", [region, g.const([2, 3], np.int64)], keepdims=1), g.const(1.0)])
        return g.op("Div", [s, n])

    fg, bg = mean_colour(middle), mean_colour(around)

    def dist(ref):  # [N,1,256,256]
        d = g.op("Sub", [colour, ref])
        return g.op("ReduceSum", [g.op("Mul", [d, d]), g.const([1], np.int64)], keepdims=1)

    # Positive where the colour is nearer the middle's than the ring's.
    score = g.op("Mul", [g.op("Sub", [dist(bg), dist(fg)]), g.const(4.0)])
    biases = g.const(np.array([1.0, 0.0, -1.0], np.float32).reshape(1, 3, 1, 1))
    logits = g.op("Add", [score, biases])  # [N,3,256,256]
    outside = g.op("Mul", [g.op("Sub", [g.const(1.0), box]), g.const(-20.0)])
    masks = g.op("Clip", [g.op("Add", [g.op("Mul", [logits, box]), outside]), g.const(-32.0), g.const(32.0)])
    # Predicted IoU: colour contrast, times how close the fill is to 60% of the box.
    d = g.op("Sub", [fg, bg])
    sep = g.op("Reshape", [g.op("ReduceSum", [g.op("Mul", [d, d]), g.const([1], np.int64)], keepdims=1), g.const([-1, 1], np.int64)])
    contrast = g.op("Div", [sep, g.op("Add", [sep, g.const(1.0)])])  # [N,1]
    on = g.op("Cast", [g.op("Greater", [masks, g.const(0.0)])], to=TensorProto.FLOAT)
    area = g.op("Max", [g.op("ReduceSum", [box, g.const([2, 3], np.int64)], keepdims=0), g.const(1.0)])  # [N,1]
    fill = g.op("Div", [g.op("ReduceSum", [on, g.const([2, 3], np.int64)], keepdims=0), area])  # [N,3]
    closeness = g.op("Sub", [g.const(1.0), g.op("Abs", [g.op("Sub", [fill, g.const(0.6)])])])
    iou = g.op("Mul", [contrast, closeness])
    return masks, iou


def save(graph, inputs, outputs, path, doc):
    model = helper.make_model(
        helper.make_graph(graph.nodes, os.path.basename(path), inputs, outputs, graph.inits),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="crossview tests/models/make_tiny_sam.py",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, path)


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def sam2(out):
    g = Graph()
    pooled = g.op("AveragePool", ["image"], kernel_shape=[4, 4], strides=[4, 4])  # [1,3,256,256]
    w0 = np.zeros((32, 3, 1, 1), np.float32)
    for c in range(3):
        w0[c, c] = 1.0
    w0[3:, :, 0, 0] = np.sin(np.arange(29 * 3, dtype=np.float32)).reshape(29, 3)
    g.op("Conv", [pooled, g.const(w0)], out="high_res_feats_0")
    half = g.op("AveragePool", ["high_res_feats_0"], kernel_shape=[2, 2], strides=[2, 2])
    w1 = (np.cos(np.arange(64 * 32, dtype=np.float32)) * 0.2).reshape(64, 32, 1, 1)
    g.op("Conv", [half, g.const(w1)], out="high_res_feats_1")
    g.op("Conv", ["image", patch_weights(g, 256, True)], out="image_embed", strides=[PATCH, PATCH])
    save(
        g,
        [f32("image", [1, 3, SIDE, SIDE])],
        [f32("high_res_feats_0", [1, 32, LOW, LOW]), f32("high_res_feats_1", [1, 64, 128, 128]), f32("image_embed", [1, 256, EMBED, EMBED])],
        os.path.join(out, "tiny_sam2.encoder.onnx"),
        "tiny SAM 2-convention image encoder (crossview tests)",
    )
    g = Graph()
    colour = g.op("Slice", ["high_res_feats_0", g.const([0], np.int64), g.const([3], np.int64), g.const([1], np.int64)])
    masks, iou = decoder_core(g, colour, "point_coords", "point_labels")
    g.op("Identity", [masks], out="masks")
    g.op("Identity", [iou], out="iou_predictions")
    save(
        g,
        [
            f32("image_embed", [1, 256, EMBED, EMBED]),
            f32("high_res_feats_0", [1, 32, LOW, LOW]),
            f32("high_res_feats_1", [1, 64, 128, 128]),
            f32("point_coords", ["num_labels", "num_points", 2]),
            f32("point_labels", ["num_labels", "num_points"]),
            f32("mask_input", ["num_labels", 1, LOW, LOW]),
            f32("has_mask_input", ["num_labels"]),
        ],
        [f32("masks", ["num_labels", 3, LOW, LOW]), f32("iou_predictions", ["num_labels", 3])],
        os.path.join(out, "tiny_sam2.decoder.onnx"),
        "tiny SAM 2-convention prompt decoder (crossview tests)",
    )


def sam1(out):
    g = Graph()
    pooled = g.op("AveragePool", ["image"], kernel_shape=[4, 4], strides=[4, 4])
    colour48 = g.op("SpaceToDepth", [pooled], blocksize=4)  # [1,48,64,64]
    rest = g.op("Conv", ["image", patch_weights(g, 208, False)], strides=[PATCH, PATCH])
    g.op("Concat", [colour48, rest], out="image_embeddings", axis=1)
    save(
        g,
        [f32("image", [1, 3, SIDE, SIDE])],
        [f32("image_embeddings", [1, 256, EMBED, EMBED])],
        os.path.join(out, "tiny_sam1.encoder.onnx"),
        "tiny SAM 1-convention image encoder (crossview tests)",
    )
    g = Graph()
    packed = g.op("Slice", ["image_embeddings", g.const([0], np.int64), g.const([48], np.int64), g.const([1], np.int64)])
    colour = g.op("DepthToSpace", [packed], blocksize=4, mode="DCR")  # [1,3,256,256]
    masks3, iou3 = decoder_core(g, colour, "point_coords", "point_labels")
    # SAM 1 has four outputs: the single-mask token first (here the middle bias), then three.
    single = g.op("Slice", [masks3, g.const([1], np.int64), g.const([2], np.int64), g.const([1], np.int64)])
    masks4 = g.op("Concat", [single, masks3], axis=1)
    single_iou = g.op("Slice", [iou3, g.const([1], np.int64), g.const([2], np.int64), g.const([1], np.int64)])
    g.op("Concat", [single_iou, iou3], out="iou_predictions", axis=1)
    g.op("Identity", [masks4], out="low_res_masks")
    g.op("Identity", [masks4], out="masks")
    save(
        g,
        [
            f32("image_embeddings", [1, 256, EMBED, EMBED]),
            f32("point_coords", [1, "num_points", 2]),
            f32("point_labels", [1, "num_points"]),
            f32("mask_input", [1, 1, LOW, LOW]),
            f32("has_mask_input", [1]),
            f32("orig_im_size", [2]),
        ],
        [f32("masks", [1, 4, LOW, LOW]), f32("iou_predictions", [1, 4]), f32("low_res_masks", [1, 4, LOW, LOW])],
        os.path.join(out, "tiny_sam1.decoder.onnx"),
        "tiny SAM 1-convention prompt decoder (crossview tests)",
    )


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    sam2(out)
    sam1(out)
    for name in sorted(os.listdir(out)):
        if name.endswith(".onnx"):
            print(f"{name}: {os.path.getsize(os.path.join(out, name))} bytes")


if __name__ == "__main__":
    main()
