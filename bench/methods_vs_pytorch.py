#!/usr/bin/python3
"""methods_vs_pytorch.py - SmoothGrad and Integrated Gradients per image in xaibench and in Debian's
PyTorch (python3-torch, python3-torchvision) doing the same computation batched, timed in the
same run: the same seeded ResNet18 (xaibench's ONNX weights loaded into torchvision's resnet18),
the same N(0, 1) images, n = m = 50 samples in batches of 10, the same threads.

    bench/methods_vs_pytorch.py [--threads T] [--images N] [--rounds R]

Each round times PyTorch's SmoothGrad, PyTorch's Integrated Gradients, then xaibench's two
(build/bench_methods --multi-pass-only --rounds 1), so that a change of clock or load touches both
alike; it prints the medians over the rounds and their ratios. Without PyTorch it says so and
exits 0.
"""
import argparse
import os
import re
import subprocess
import sys
import time

try:
    import numpy as np
    import torch
    from pytorch_peer import seeded_model, torch_resnet18
except ImportError as missing:  # the comparison needs PyTorch; the product does not
    print(f"methods_vs_pytorch: skipped ({missing.name} is not installed: apt-get install python3-torch "
          "python3-torchvision python3-onnx)")
    sys.exit(0)

SAMPLES = 50
SAMPLE_BATCH = 10  # xaibench's batch for 50 samples (xai_sample_batch)


def smoothgrad(model, x, target, noise=0.15):
    """Mean of SAMPLES saliency maps on x + N(0, (noise (max x - min x))^2), in batches."""
    sigma = noise * float(x.max() - x.min())
    total = torch.zeros_like(x)
    for first in range(0, SAMPLES, SAMPLE_BATCH):
        noisy = (x.unsqueeze(0) + sigma * torch.randn((SAMPLE_BATCH,) + tuple(x.shape))).requires_grad_(True)
        model(noisy)[:, target].sum().backward()
        total += noisy.grad.sum(0)
    return total / SAMPLES


def integrated_gradients(model, x, target):
    """x * sum_k w_k grad(alpha_k x), Gauss-Legendre on [0, 1], in batches."""
    nodes, weights = np.polynomial.legendre.leggauss(SAMPLES)
    alphas, steps = 0.5 * (nodes + 1), 0.5 * weights
    total = torch.zeros_like(x)
    for first in range(0, SAMPLES, SAMPLE_BATCH):
        a = torch.tensor(alphas[first:first + SAMPLE_BATCH], dtype=torch.float32).view(-1, 1, 1, 1)
        w = torch.tensor(steps[first:first + SAMPLE_BATCH], dtype=torch.float32).view(-1, 1, 1, 1)
        scaled = (a * x.unsqueeze(0)).requires_grad_(True)
        model(scaled)[:, target].sum().backward()
        total += (w * scaled.grad).sum(0)
    return x * total


def pytorch_ms(model, method, images):
    started = time.perf_counter()
    for x in images:
        method(model, x, 0)
    return 1e3 * (time.perf_counter() - started) / len(images)


def xaibench_ms(model_path, threads):
    out = subprocess.run(["build/bench_methods", "--model", model_path, "--threads", str(threads), "--rounds", "1",
                          "--multi-pass-only"], check=True, capture_output=True, text=True).stdout
    found = re.search(r"smoothgrad \(n = 50\) ([0-9.]+); integrated_gradients \(m = 50\) ([0-9.]+)", out)
    if not found:
        sys.exit("methods_vs_pytorch: unexpected bench_methods output:\n" + out)
    return float(found.group(1)), float(found.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    path = seeded_model("/tmp/methods_vs_pytorch_resnet18.onnx")
    model = torch_resnet18(path)
    images = [torch.randn(3, 224, 224) for _ in range(args.images)]
    rounds = []
    for _ in range(args.rounds):
        rounds.append((pytorch_ms(model, smoothgrad, images), pytorch_ms(model, integrated_gradients, images))
                      + xaibench_ms(path, args.threads))
    torch_sg, torch_ig, ours_sg, ours_ig = (float(np.median([r[k] for r in rounds])) for k in range(4))
    print(f"seeded ResNet18, {args.threads} threads, 50 samples in batches of {SAMPLE_BATCH}, ms per image "
          f"(medians of {args.rounds} rounds):")
    print(f"  smoothgrad:            xaibench {ours_sg:8.1f}   PyTorch {torch.__version__} {torch_sg:8.1f}   "
          f"xaibench {torch_sg / ours_sg:.2f}x faster (goal >= 1.5)")
    print(f"  integrated_gradients:  xaibench {ours_ig:8.1f}   PyTorch {torch.__version__} {torch_ig:8.1f}   "
          f"xaibench {torch_ig / ours_ig:.2f}x faster (goal >= 1.5)")


if __name__ == "__main__":
    main()
