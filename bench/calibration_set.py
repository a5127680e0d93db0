#!/usr/bin/env python3
"""Builds the directory of identities that Vigil's shipped calibrations are measured on
(`make calibration`): one sub-directory per person, as `vigil eval biometry` reads it.

- Several media of one person: Obama (three different photographs), the carphone sequence (the
  video itself and four stills from different moments: other head poses and expressions).
- One photo each: Biden, Eileen Collins (astronaut.png), Grace Hopper.
- Every face found in the group photos of bench/calibration-data.toml, cropped with a wide
  margin, each its own identity inside a `.group` directory per photo: the people in one photo
  are different people, but a photo series may show one person in several photos, so pairs
  across two photos are left unlabelled (`vigil eval` skips them) rather than called impostors.

Usage: calibration_set.py <assets dir> <output dir>
"""
import os
import shutil
import subprocess
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_chain import Chain  # noqa: E402  (the benchmark's detector, same pre-processing as Vigil's)


def main():
    assets, out = sys.argv[1], sys.argv[2]
    td, cal = os.path.join(assets, "testdata"), os.path.join(assets, "calibration")
    if os.path.exists(out):
        shutil.rmtree(out)

    def put(identity, src, name=None):
        d = os.path.join(out, identity)
        os.makedirs(d, exist_ok=True)
        shutil.copy(src, os.path.join(d, name or os.path.basename(src)))

    for f in ["obama.jpg", "obama2.jpg", "obama3.jpg"]:
        put("obama", os.path.join(td, f))
    put("biden", os.path.join(td, "biden.jpg"))
    put("collins", os.path.join(td, "astronaut.png"))
    put("hopper", os.path.join(td, "grace_hopper.jpg"))
    put("carphone", os.path.join(td, "carphone.mp4"))
    for t in ["0.4", "1.4", "2.4", "3.6"]:
        dst = os.path.join(out, "carphone", f"still-{t}s.png")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-ss", t, "-i", os.path.join(td, "carphone.mp4"),
                        "-frames:v", "1", dst], check=True)

    chain = Chain(assets)
    faces = 0
    for g in sorted(os.listdir(cal)):
        img = Image.open(os.path.join(cal, g)).convert("RGB")
        w, h = img.size
        for k, (x, y, fw, fh) in enumerate(chain.detect(img)):
            if fw < 40:
                continue  # too small to say who it is
            # A wide margin, as a selfie or a photo of a person frames a face.
            cx, cy, side = x + fw / 2, y + fh / 2, max(fw, fh) * 2.2
            box = (int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0)), int(min(cx + side / 2, w)),
                   int(min(cy + side / 2, h)))
            d = os.path.join(out, f"{os.path.splitext(g)[0]}.group", f"person{k}")
            os.makedirs(d, exist_ok=True)
            img.crop(box).save(os.path.join(d, "face.png"))
            faces += 1
    print(f"calibration set: {len(os.listdir(out))} entries ({faces} faces from group photos) in {out}")


if __name__ == "__main__":
    main()
