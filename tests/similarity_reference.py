#!/usr/bin/python3
"""similarity_reference.py - SciPy's and scikit-image's numbers for test_sanity.c's arrays.

Reads FILE: int32 count, then per case int32 h, w and two float32 arrays of h*w values; prints
one line per case: spearman_rho ssim (SSIM of the arrays as given, data_range 1, skimage's
defaults: 7x7 uniform window, sample covariance)."""
import sys

import numpy as np
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

with open(sys.argv[1], "rb") as f:
    data = f.read()
at = 0
(count,) = np.frombuffer(data, np.int32, 1, at)
at += 4
for _ in range(count):
    h, w = np.frombuffer(data, np.int32, 2, at)
    at += 8
    a = np.frombuffer(data, np.float32, h * w, at).reshape(h, w)
    at += 4 * h * w
    b = np.frombuffer(data, np.float32, h * w, at).reshape(h, w)
    at += 4 * h * w
    rho = spearmanr(a.ravel(), b.ravel()).correlation
    ssim = structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1.0)
    print("%.17g %.17g" % (rho, ssim))
