#!/usr/bin/env python3
"""The Python side of the document-reading benchmark (tests/benches/documents.rs): the same
PP-OCRv4 ONNX models through RapidOCR (rapidocr-onnxruntime 1.4.4, onnxruntime, OpenCV), on the
same page photos, with the same work as Vigil's two paths:

- mrz: detection with the longest side scaled to 960, then recognition of the two bottom-most wide boxes only (no
  template decoding: Python is given the cheaper greedy decoder);
- full: detection at 960, then recognition of every box, no angle classifier.

Usage: ocr_reference.py DIR THREADS — prints one JSON object {"mrz": [s…], "full": [s…]} with
the seconds per page, the first page (warm-up) excluded.
"""
import json
import os
import sys
import time

import cv2
import numpy as np
from rapidocr_onnxruntime import RapidOCR
from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess


def main():
    folder, threads = sys.argv[1], int(sys.argv[2])
    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, det_limit_side_len=960,
                      det_limit_type="max", use_cls=False)
    det = engine.text_det
    det.get_preprocess = lambda max_wh: DetPreProcess(960, "max", det.mean, det.std)
    pages = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    out = {"mrz": [], "full": []}
    for i, name in enumerate(pages):
        img = cv2.imread(os.path.join(folder, name))
        t = time.perf_counter()
        boxes, _ = det(img)
        boxes = [] if boxes is None else list(boxes)
        wide = [b for b in boxes if np.linalg.norm(b[0] - b[1]) > 0.45 * img.shape[1]]
        wide.sort(key=lambda b: b[:, 1].mean())
        crops = [engine.get_crop_img_list(img, [b])[0] for b in wide[-2:]]
        if crops:
            engine.text_rec(crops)
        mrz = time.perf_counter() - t
        t = time.perf_counter()
        engine(img, use_cls=False)
        full = time.perf_counter() - t
        if i > 0:
            out["mrz"].append(mrz)
            out["full"].append(full)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
