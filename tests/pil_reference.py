#!/usr/bin/python3
"""PIL + torchvision reference for xaibench's image tests (Debian's python3-pil and numpy).

usage: pil_reference.py OUT_DIR IMAGE...

For each IMAGE, and for variants of the first one that this script writes (grey, progressive
and CMYK JPEG; palette, grey, RGBA and grey+alpha PNG; and grey16.png, see below), writes OUT_DIR/<name>.f32: the
float32 [3,224,224] tensor of torchvision's eval transform (Resize(256) with PIL's bilinear
filter, CenterCrop(224), ToTensor, Normalize with the ImageNet mean and std), computed as
torchvision 0.14 computes it on a PIL image. Prints one line per case: IMAGE<TAB>TENSOR.
"""
import os
import sys

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def eval_transform(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if w <= h:
        size = (256, int(256 * h / w))
    else:
        size = (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    left = int(round((size[0] - 224) / 2.0))
    top = int(round((size[1] - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    pixels = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255)
    return ((pixels - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def variants(first, out_dir):
    src = Image.open(first).convert("RGB")
    made = []
    def keep(name, img, **options):
        path = os.path.join(out_dir, name)
        img.save(path, **options)
        made.append(path)
    keep("grey.jpg", src.convert("L"), quality=90)
    keep("progressive.jpg", src, quality=90, progressive=True)
    keep("cmyk.jpg", src.convert("CMYK"), quality=95)
    keep("palette.png", src.convert("P", palette=Image.ADAPTIVE, colors=64))
    keep("grey8.png", src.convert("L"))
    # PIL reads 16-bit grey as mode I and clips it to 255 on convert("RGB"), so this file has
    # no PIL tensor: the test checks that it decodes to grey8.png's pixels (v16 = 257 v8).
    grey16 = (np.asarray(src.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16, mode="I;16").save(os.path.join(out_dir, "grey16.png"))
    rgba = src.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(src.size))
    keep("rgba.png", rgba)
    keep("grey-alpha.png", rgba.convert("LA"))
    return made


def main():
    out_dir, images = sys.argv[1], sys.argv[2:]
    cases = list(images) + variants(images[0], out_dir)
    for path in cases:
        name = os.path.basename(path)
        tensor_path = os.path.join(out_dir, name + ".f32")
        eval_transform(path).tofile(tensor_path)
        print(f"{path}\t{tensor_path}")


if __name__ == "__main__":
    main()
