"""pycocotools' side of the RLE benchmark: encode + decode of the same 64 object masks of a
640x480 image as benches/data.rs (Fortran-ordered input, as pycocotools wants it).
Prints masks per second on one core. Usage: python3 benches/py/rle_pycocotools.py"""
import time
import numpy as np
from pycocotools import mask as mu

W, H, N = 640, 480, 64
cols = np.arange(W)[None, :] + 0.5
rows = np.arange(H)[:, None] + 0.5
masks = []
for i in range(N):
    cx, cy = 80.0 + (i * 37) % 480, 60.0 + (i * 53) % 360
    rx, ry = 20.0 + (i * 13) % 100, 20.0 + (i * 29) % 120
    m = (((cols - cx) / rx) ** 2 + ((rows - cy) / ry) ** 2 <= 1.0).astype(np.uint8)
    masks.append(np.asfortranarray(m))

def run():
    for m in masks:
        mu.decode(mu.encode(m))

run()
best = float("inf")
for _ in range(20):
    t = time.perf_counter()
    run()
    best = min(best, time.perf_counter() - t)
print(f"pycocotools encode+decode 640x480: {N / best:,.0f} masks/s ({best / N * 1e6:.1f} us/mask)")
