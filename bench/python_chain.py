#!/usr/bin/env python3
"""The reference side of Vigil's vision benchmark: the same decode → detect → liveness →
landmarks → align → embed chain as host/inference, written the ordinary Python way (PIL for
decoding and resizing, numpy for the arithmetic, the onnxruntime wheel for the models) with the
same session settings (2 intra-op threads, no spinning), or with onnxruntime's defaults (what a
Python service gets unless it tunes them). Prints one JSON object of median ms.

Usage: python_chain.py <assets dir> <photo> [runs] [tuned|defaults]
"""
import io
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

ARCFACE = np.array([(38.29, 51.70), (73.53, 51.50), (56.03, 71.74), (41.55, 92.37), (70.73, 92.20)], np.float32)


TUNED = True


def session(path):
    o = ort.SessionOptions()
    if TUNED:
        o.intra_op_num_threads = 2
        o.inter_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def nchw(img, mean, std):
    a = (np.asarray(img, np.float32) - mean) / std
    return a.transpose(2, 0, 1)[None]


def nms(found, thr):
    kept = []
    for s, b in found:
        ok = True
        for _, k in kept:
            iw = max(0.0, min(b[2], k[2]) - max(b[0], k[0]))
            ih = max(0.0, min(b[3], k[3]) - max(b[1], k[1]))
            inter = iw * ih
            union = (b[2] - b[0]) * (b[3] - b[1]) + (k[2] - k[0]) * (k[3] - k[1]) - inter
            if union > 0 and inter / union >= thr:
                ok = False
                break
        if ok:
            kept.append((s, b))
    return kept


class Chain:
    def __init__(self, assets):
        m = assets + "/models/"
        self.det = session(m + "fr_detect.onnx")
        self.lmk = session(m + "fr_landmark.onnx")
        self.live = session(m + "fr_liveness.onnx")
        self.feat = session(m + "fr_feature.onnx")

    def detect(self, img):
        w, h = img.size
        x = nchw(img.resize((320, 240), Image.BILINEAR), 127.0, 128.0)
        scores, boxes = self.det.run(["scores", "boxes"], {"input": x})
        s = scores[0][:, 1]
        idx = np.where(s >= 0.65)[0]
        found = sorted(((float(s[i]), boxes[0][i] * [w, h, w, h]) for i in idx), key=lambda t: -t[0])
        faces = []
        for score, b in nms(found, 0.4):
            side = max(b[3] - b[1], 1.0)
            x0 = max((b[0] + b[2]) / 2 - side / 2, 0.0)
            y0 = max(b[1], 0.0)
            faces.append((x0, y0, min(side, w - x0), min(side, h - y0)))
        return faces

    def spoofing(self, img, f):
        w, h = img.size
        side = min(max(f[2], f[3]) * 2.7, min(w, h))
        cx, cy = f[0] + f[2] / 2, f[1] + f[3] / 2
        x0 = min(max(cx - side / 2, 0), w - side)
        y0 = min(max(cy - side / 2, 0), h - side)
        crop = img.crop((int(x0), int(y0), int(x0) + int(side), int(y0) + int(side))).resize((128, 128), Image.BILINEAR)
        logits = self.live.run(None, {"input": nchw(crop, 0.0, 1.0)})[0][0]
        e = np.exp(logits - logits.max())
        return 1.0 - e[0] / e.sum()

    def landmarks(self, img, f):
        w, h = img.size
        side = min(max(f[2], f[3]), min(w, h))
        x0 = min(max(f[0], 0), w - side)
        y0 = min(max(f[1], 0), h - side)
        crop = img.crop((int(x0), int(y0), int(x0) + int(side), int(y0) + int(side))).resize((64, 64), Image.BILINEAR)
        a = np.asarray(crop, np.float32)
        gray = (0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]) / 256.0
        out = self.lmk.run(None, {"input": gray[None, None]})[0][0][:136].reshape(68, 2)
        return out * side + [x0, y0]

    def embed(self, img, f):
        p = self.landmarks(img, f)
        src = np.array([p[[37, 38, 40, 41]].mean(0), p[[43, 44, 46, 47]].mean(0), p[30],
                        p[[48, 60]].mean(0), p[[54, 64]].mean(0)], np.float32)
        ms, md = src.mean(0), ARCFACE.mean(0)
        s, d = src - ms, ARCFACE - md
        den = max((s ** 2).sum(), 1e-6)
        a = (s * d).sum() / den
        b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / den
        tx = md[0] - (a * ms[0] - b * ms[1])
        ty = md[1] - (b * ms[0] + a * ms[1])
        k = a * a + b * b
        inv = (a / k, b / k, -(a * tx + b * ty) / k, -b / k, a / k, (b * tx - a * ty) / k)
        aligned = img.transform((112, 112), Image.AFFINE, inv, resample=Image.BILINEAR)
        v = self.feat.run(None, {"input": nchw(aligned, 127.0, 128.0)})[0][0]
        return v / max(np.linalg.norm(v), 1e-12)


def median_ms(n, fn):
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main():
    assets, photo = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    global TUNED
    TUNED = (sys.argv[4] if len(sys.argv) > 4 else "tuned") != "defaults"
    data = open(photo, "rb").read()
    c = Chain(assets)
    decode = lambda: Image.open(io.BytesIO(data)).convert("RGB")
    img = decode()
    img.load()
    f = c.detect(img)[0]

    def chain():
        im = decode()
        face = c.detect(im)[0]
        return c.spoofing(im, face), c.embed(im, face)

    out = {
        "decode": median_ms(n, lambda: decode().load()),
        "detect": median_ms(n, lambda: c.detect(img)),
        "landmarks": median_ms(n, lambda: c.landmarks(img, f)),
        "liveness": median_ms(n, lambda: c.spoofing(img, f)),
        "embed_fr_feature": median_ms(n, lambda: c.embed(img, f)),
        "chain": median_ms(n, chain),
        "spoofing": float(c.spoofing(img, f)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
