#!/usr/bin/python3
"""vs_pytorch.py - xaibench against the tool people would use instead: Debian's PyTorch
(python3-torch, python3-torchvision) on the same seeded ResNet18 (xaibench's ONNX weights loaded
into torchvision's resnet18), the same threads and batch sizes, timed in the same run.

    bench/vs_pytorch.py [--threads 1,2] [--batches 1,8] [--rounds R] [--images N] [--csv OUT.csv]

Per thread count and batch size, in ms per image:
  PyTorch forward; three maps (saliency, deconvnet, guided backprop) Captum style (a forward per
  method) and sharing one forward (one forward, three backward passes, as xaibench does);
  xaibench's engine (build/bench_engine: forward, and three maps from one forward);
  xaibench explain end to end (decode, preprocess, engine, HDF5 file) on the sample photos: the
  marginal cost per image, (time of B + N images - time of B) / N at batch B (N a multiple of
  B), so that starting the process, loading the model and making the engine are left out, as
  they are for PyTorch;
and the ratios: PyTorch's shared-forward time over xaibench's engine and over explain.
Each round times PyTorch, then bench_engine, then explain, so that a change of clock or load
touches all alike; the figures are medians over the rounds. Without PyTorch it says so and exits 0.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    from pytorch_peer import Rule, RuleReLU, seeded_model, torch_resnet18
except ImportError as missing:  # the comparison needs PyTorch; the product does not
    print(f"vs_pytorch: skipped ({missing.name} is not installed: apt-get install python3-torch "
          "python3-torchvision python3-onnx)")
    sys.exit(0)

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png", "rocket.jpg", "dog.jpg"]

RULES = ("saliency", "deconvnet", "guided_backprop")


def seed_of(logits):
    """The top logit of each image, summed (its gradient is each image's own map)."""
    return logits.gather(1, logits.argmax(1, keepdim=True)).sum()


def torch_forward(model, x):
    with torch.no_grad():
        model(x)


def torch_captum_style(model, x):
    for rule in RULES:
        Rule.name = rule
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(seed_of(model(x)), x)


def torch_shared_forward(model, x):
    x = x.detach().requires_grad_(True)
    seed = seed_of(model(x))
    for k, rule in enumerate(RULES):
        Rule.name = rule
        (grad,) = torch.autograd.grad(seed, x, retain_graph=k + 1 < len(RULES))


def torch_ms(function, model, x, iterations):
    function(model, x)  # warm-up
    started = time.perf_counter()
    for _ in range(iterations):
        function(model, x)
    return 1e3 * (time.perf_counter() - started) / (iterations * x.shape[0])


def engine_ms(model_path, threads, batch, iterations):
    """bench_engine's forward and three-map ms per image."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as csv:
        subprocess.run(["build/bench_engine", "--model", model_path, "--threads", str(threads), "--batches", str(batch),
                        "--iterations", str(iterations), "--csv", csv.name], check=True, capture_output=True)
        row = open(csv.name).read().splitlines()[1].split(",")
    return float(row[2]), float(row[4])


def explain_seconds(model_path, threads, batch, images, out):
    command = ["build/xaibench", "explain", "--model", model_path, "--threads", str(threads), "--batch", str(batch),
               "-o", out]
    for path in images:
        command += ["--image", path]
    if os.path.exists(out):
        os.remove(out)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def explain_ms(model_path, threads, batch, extra, work):
    extra = max(batch, extra // batch * batch)
    photos = [os.path.join("data/samples", PHOTOS[k % len(PHOTOS)]) for k in range(batch + extra)]
    few = explain_seconds(model_path, threads, batch, photos[:batch], os.path.join(work, "few.h5"))
    many = explain_seconds(model_path, threads, batch, photos, os.path.join(work, "many.h5"))
    return 1e3 * (many - few) / extra


def numbers(text):
    return [int(v) for v in text.split(",") if v]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=numbers, default=list(range(1, os.cpu_count() + 1)))
    parser.add_argument("--batches", type=numbers, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=16, help="N: explain's extra photos (cycled from data/samples)")
    parser.add_argument("--iterations", type=int, default=4, help="batches timed per figure")
    parser.add_argument("--csv")
    args = parser.parse_args()
    for photo in PHOTOS:
        if not os.path.exists(os.path.join("data/samples", photo)):
            sys.exit("vs_pytorch: data/samples is missing its photos: run scripts/fetch-samples.sh")
    torch.manual_seed(0)
    path = seeded_model("/tmp/vs_pytorch_resnet18.onnx")
    model = torch_resnet18(path, RuleReLU)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"seeded ResNet18, 224x224, three maps (saliency, deconvnet, guided backprop), ms per image, medians of "
          f"{args.rounds} rounds; PyTorch {torch.__version__}; CPU {cpu}")
    header = (f"{'threads':>7} {'batch':>5} | {'torch fwd':>9} {'captum':>8} {'shared':>8} | {'xai fwd':>8} "
              f"{'engine':>8} {'explain':>8} | {'engine x':>8} {'explain x':>9} {'explain/engine':>14}")
    print(header)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batches:
                x = torch.randn(batch, 3, 224, 224)
                rounds = []
                for _ in range(args.rounds):
                    rounds.append((torch_ms(torch_forward, model, x, args.iterations),
                                   torch_ms(torch_captum_style, model, x, args.iterations),
                                   torch_ms(torch_shared_forward, model, x, args.iterations))
                                  + engine_ms(path, threads, batch, args.iterations)
                                  + (explain_ms(path, threads, batch, args.images, work),))
                tf, tc, ts, ef, e3, ex = (float(np.median([r[k] for r in rounds])) for k in range(6))
                rows.append((threads, batch, tf, tc, ts, ef, e3, ex))
                print(f"{threads:>7} {batch:>5} | {tf:9.1f} {tc:8.1f} {ts:8.1f} | {ef:8.1f} {e3:8.1f} {ex:8.1f} | "
                      f"{ts / e3:7.2f}x {ts / ex:8.2f}x {ex / e3:14.3f}", flush=True)
    print("captum: a forward per method; shared: one forward, three backward passes; engine: build/bench_engine's "
          "forward + three maps;\nexplain: xaibench explain's marginal ms per image end to end; engine x, explain x: "
          "PyTorch shared over each")
    if args.csv:
        with open(args.csv, "w") as out:
            out.write("threads,batch,torch_forward_ms,torch_captum_ms,torch_shared_ms,engine_forward_ms,"
                      "engine_three_maps_ms,explain_ms\n")
            for r in rows:
                out.write(",".join(str(v) if k < 2 else f"{v:.3f}" for k, v in enumerate(r)) + "\n")


if __name__ == "__main__":
    main()
