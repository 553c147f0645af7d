#!/usr/bin/python3
"""families.py - torchvision's CNN families through xaibench, against Debian's PyTorch.

    bench/families.py [--families a,b,...] [--opsets 13,17] [--batchnorm folded,kept]
                      [--image IMG] [--threads T] [--timing] [--check]

(--families parts: a small model of the ops' general forms instead; see Parts.)

For each family, opset and BatchNormalization export (folded into the convolutions, the
exporter's default, or kept with training=TrainingMode.PRESERVE): torchvision's model with seeded
weights (torch.manual_seed(0), BatchNormalization's statistics and affine terms randomized so that
folding them is exercised) is exported to ONNX, `xaibench explain` explains one photo with
saliency, deconvnet and guided backprop, and PyTorch computes the same in float64 (the truth) and
float32 on the very input xaibench saw (its /input), with the rules as autograd functions at every
ReLU (and ReLU6). It prints per case:
  logits   max |xaibench - float64| / max |float64| (must be <= 1e-4);
  maps     for each rule, ||map - float64|| / ||float64|| for xaibench and for PyTorch float32;
           xaibench's must be at most 2x PyTorch float32's (or 1e-6): random deep nets are
           ill-conditioned for saliency, so a fixed tolerance would be wrong. Which ReLU and
           max-pool decisions flip near a tie is a lucky draw for any float32 implementation,
           so PyTorch float32 also runs on six copies of the input nudged by about one float
           rounding (three) and one convolution's float32 error (three), and its worst error
           over the seven runs is the yardstick (printed as x/pt32 worst, pt32 as is);
explain's peak RSS (its VmHWM) beside the model file's size; and with --timing, ms per image at
batch 1 (forward; three maps from one forward) for PyTorch float32 (its forward with its own
ReLU, the maps with the rules' functions) and for xaibench's engine (build/bench_engine
--speed-only), in three alternating blocks of five passes each, with the median of the blocks'
ratios of the three maps' times. --check exits 1 if any case fails
(the test suite runs it on the small families). A family xaibench refuses is listed
with its one-line error. Without PyTorch it says so and exits 0.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
    import torch
    import torchvision
    from pytorch_peer import RectifierFunction, Rule
except ImportError as missing:  # the comparison needs PyTorch; the product does not
    print(f"families: skipped ({missing.name} is not installed: apt-get install python3-torch "
          "python3-torchvision python3-h5py python3-onnx)")
    sys.exit(0)

FAMILIES = ["alexnet", "vgg16", "vgg16_bn", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2",
            "densenet121", "googlenet", "squeezenet1_1", "shufflenet_v2_x1_0", "inception_v3", "efficientnet_b0",
            "regnet_y_400mf", "mobilenet_v3_small", "mnasnet1_0", "convnext_tiny"]
RULES = ["saliency", "deconvnet", "guided_backprop"]
XAIBENCH = os.environ.get("XAIBENCH", "build/xaibench")
BENCH_ENGINE = os.path.join(os.path.dirname(XAIBENCH) or ".", "bench_engine")


def install_rules():
    """F.relu and F.hardtanh(0, hi) (nn.ReLU, nn.ReLU6 and the functional calls in DenseNet and
    GoogLeNet all go through them) as the rule's function; never in place."""
    functional = torch.nn.functional
    plain_relu, plain_hardtanh = torch.relu, functional.hardtanh  # F.relu itself calls torch.relu

    def relu(x, inplace=False):
        if not Rule.active:
            return plain_relu(x)
        return RectifierFunction.apply(x, 0.0, float("inf"))

    def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
        if min_val != 0.0 or not Rule.active:
            return plain_hardtanh(x, min_val, max_val, inplace)
        return RectifierFunction.apply(x, min_val, max_val)

    functional.relu = relu
    functional.hardtanh = hardtanh
    torch.relu = relu


class SpaceToDepth(torch.nn.Module):
    """YOLOv5's Focus: each 2x2 block of pixels into four channels (Slices of H and W with step 2)."""

    def forward(self, x):
        return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)


class Parts(torch.nn.Module):
    """`parts`: not a torchvision family but the general forms of ops that a user's own CNN may
    use and none of the 17 does: Slices of H and W with steps (space to depth), reflect, edge
    and constant-valued Pad, AveragePool with ceil_mode (the padding counted and not), a
    dilated MaxPool with ceil_mode, constants broadcast along W, along H and over whole planes,
    a spatial gate [N,1,H,W] (CBAM), Sqrt, Tanh and Pow, means over the channels (keepdims) and
    over W (not), Add, Sub and Div of two values, one broadcast, a LayerNorm over C, H and W
    (written out below opset 17), a non-local block with two heads sharing a key and a value
    (MatMul of two values, one of them of one group, Softmax, Transposes of rank 3 and 4), a flip of W and a roll of H (Slices with step -1, Concat of rows), a Concat of
    columns and every third channel."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.front = nn.Sequential(
            SpaceToDepth(), nn.ReflectionPad2d(3), nn.Conv2d(12, 8, 7), nn.ReLU(),
            nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.ReplicationPad2d((1, 2, 0, 1)), nn.Conv2d(8, 8, 3), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, dilation=2, ceil_mode=True),
            nn.ConstantPad2d((1, 1, 2, 0), 0.5),
            nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False))
        _, channels, height, width = self.front(torch.zeros(1, 3, 224, 224)).shape
        self.along_w = nn.Parameter(torch.rand(width) + 0.5)
        self.along_h = nn.Parameter(torch.randn(height, 1))
        self.planes = nn.Parameter(torch.randn(1, channels, height, width))
        self.spatial = nn.Conv2d(channels, 1, 3, padding=1)
        self.norm = nn.LayerNorm([channels, height, width])  # over C, H and W: axis 1
        self.norm.weight.data.normal_(1.0, 0.2)
        self.norm.bias.data.normal_(0.0, 0.1)
        self.theta = nn.Conv2d(channels, channels // 2, 1)  # two heads of queries
        self.phi, self.g = (nn.Conv2d(channels, channels // 4, 1) for _ in range(2))  # one key, one value
        self.back = nn.Conv2d(channels // 2, channels, 1)
        self.head = nn.Sequential(nn.Conv2d(channels + len(range(1, channels, 3)), 16, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(16, 10))

    def non_local(self, x):
        """Wang et al.'s non-local block, softmax(theta^T phi) g over the H x W positions, with two
        heads of queries sharing one key and one value (multi-query attention: a MatMul whose right
        operand has one group for both), then each head's result mixed over the positions by the
        heads' mean attention (a MatMul whose left operand has one group)."""
        _, channels, height, width = x.shape
        positions = height * width
        theta = self.theta(x).reshape(-1, 2, channels // 4, positions).transpose(2, 3)
        weights = torch.softmax(theta @ self.phi(x).flatten(2).unsqueeze(1), -1)
        y = weights @ self.g(x).flatten(2).transpose(1, 2).unsqueeze(1)
        y = y + 0.5 * (weights.mean(1, keepdim=True) @ y)
        return self.back(y.transpose(2, 3).reshape(-1, channels // 2, height, width))

    def forward(self, x):
        x = (self.front(x) * self.along_w + self.along_h) / 2 - self.planes
        x = torch.tanh(x * torch.sigmoid(self.spatial(x)).sqrt()) ** 3
        x = x * torch.sigmoid(x.mean(1, keepdim=True)) + x.mean(3).unsqueeze(3)
        x = (x - x.mean(2, keepdim=True)) / (torch.sigmoid(x.mean(1, keepdim=True)) + 0.5)
        x = self.norm(x)
        x = x + self.non_local(x)
        x = torch.cat([torch.roll(torch.flip(x, [3]), 1, 2), x], 3)
        return self.head(torch.cat([x, x[:, 1::3]], 1))


def seeded_model(name):
    torch.manual_seed(0)
    if name == "parts":
        return Parts().requires_grad_(False).eval()
    extra = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    model = getattr(torchvision.models, name)(weights=None, **extra)
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            shape = module.running_mean.shape
            module.running_mean.copy_(0.1 * torch.randn(shape, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(shape, generator=generator))
            module.weight.data.copy_(0.5 + torch.rand(shape, generator=generator))
            module.bias.data.copy_(0.1 * torch.randn(shape, generator=generator))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def export(model, name, opset, batchnorm, folder):
    size = 299 if name == "inception_v3" else 224
    path = os.path.join(folder, f"{name}-opset{opset}-{batchnorm}.onnx")
    mode = torch.onnx.TrainingMode.EVAL if batchnorm == "folded" else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=opset, training=mode)
    return path


def explain(model_path, image, threads, folder):
    out = os.path.join(folder, "explain.h5")
    if os.path.exists(out):
        os.remove(out)
    # Peak RSS from the process's own VmHWM, polled: getrusage's ru_maxrss would carry this
    # (large) Python process's peak across fork and exec.
    errors = tempfile.TemporaryFile(mode="w+")
    run = subprocess.Popen([XAIBENCH, "explain", "--model", model_path, "--image", image, "--methods", ",".join(RULES),
                            "--threads", str(threads), "-o", out], stdout=subprocess.DEVNULL, stderr=errors, text=True)
    peak_kb = 0
    while run.poll() is None:
        try:
            with open(f"/proc/{run.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    errors.seek(0)
    if run.returncode != 0:
        return None, (errors.read().strip().splitlines() or ["exit %d" % run.returncode])[-1]
    with h5py.File(out, "r") as f:
        result = {"input": f["/input"][:], "logits": f["/logits"][:], "target": int(f["/target"][0]),
                  "peak_mb": peak_kb / 1024, "file_mb": os.path.getsize(model_path) / 2 ** 20}
        for rule in RULES:
            result[rule] = f["/maps/" + rule][:]
    return result, None


def torch_maps(model, x, target, dtype):
    """Logits and the three rules' maps of model(x) in dtype, one forward shared by the rules."""
    model = model.to(dtype)
    x = torch.from_numpy(x).to(dtype).requires_grad_(True)
    logits = model(x)
    maps = {}
    for rule in RULES:
        Rule.name = rule
        (grad,) = torch.autograd.grad(logits[0, target], x, retain_graph=True)
        maps[rule] = grad.numpy().astype(np.float64)
    return logits.detach().numpy().astype(np.float64), maps


def nudged_inputs(x):
    """x, then three copies off by about one float32 rounding per element and three by about one
    convolution's float32 error (1e-6 relative), each with its own seed."""
    copies = [x]
    for k, size in enumerate([2.0 ** -24] * 3 + [1e-6] * 3):
        noise = np.random.default_rng(k).uniform(-1.0, 1.0, x.shape)
        copies.append((x * (1.0 + size * noise)).astype(np.float32))
    return copies


def relative(a, truth):
    norm = np.linalg.norm(truth)
    return float(np.linalg.norm(a - truth) / norm) if norm > 0 else float(np.linalg.norm(a))


def timing(model, model_path, threads, rounds=5, blocks=3):
    """ms per image at batch 1 (PyTorch forward, PyTorch three maps, xaibench forward, three maps)
    and the speedup of the three maps. `blocks` times in turn: `rounds` PyTorch passes, then
    bench_engine --speed-only over `rounds` iterations, so that a change of the host's load hits
    both; the times are the medians of the blocks' medians, the speedup the median of the blocks'
    ratios."""
    size = 299 if "inception" in model_path else 224
    x = torch.randn(1, 3, size, size).requires_grad_(True)
    model = model.float()

    def pytorch_pass():
        Rule.active = False
        start = time.perf_counter()
        with torch.no_grad():
            model(x)
        forward = time.perf_counter() - start
        Rule.active = True
        start = time.perf_counter()
        logits = model(x)
        for rule in RULES:
            Rule.name = rule
            torch.autograd.grad(logits[0, 0], x, retain_graph=True)
        return 1e3 * forward, 1e3 * (time.perf_counter() - start)

    pytorch_pass()  # warm-up
    ours_fail = (float("nan"), float("nan"))
    pt, ours = [], []
    for _ in range(blocks):
        passes = [pytorch_pass() for _ in range(rounds)]
        pt.append((float(np.median([f for f, _ in passes])), float(np.median([m for _, m in passes]))))
        run = subprocess.run([BENCH_ENGINE, "--model", model_path, "--threads", str(threads), "--batches", "1",
                              "--iterations", str(rounds), "--speed-only"], capture_output=True, text=True)
        row = [line.split() for line in run.stdout.splitlines() if line.startswith("1 ")]
        ours.append((float(row[0][2]), float(row[0][6])) if row else ours_fail)
    median = lambda values: float(np.median(values))
    return (median([f for f, _ in pt]), median([m for _, m in pt]), median([f for f, _ in ours]),
            median([m for _, m in ours]), median([p[1] / o[1] for p, o in zip(pt, ours)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--opsets", default="13,17")
    parser.add_argument("--batchnorm", default="folded,kept")
    parser.add_argument("--image", default="data/samples/dog.jpg")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    install_rules()
    failures, speedups = 0, []
    print("family opset batchnorm | logits | saliency, deconvnet, guided_backprop: x/pt32 worst,pt32 as is | verdict"
          " | explain's peak RSS (model file)"
          + (" | pt fwd, 3 maps | xai fwd, 3 maps | speedup" if args.timing else ""))
    with tempfile.TemporaryDirectory() as folder:
        for name in args.families.split(","):
            model = seeded_model(name)
            forms = args.batchnorm.split(",")
            if not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):
                forms = forms[:1]  # without BatchNormalization both exports are the same model
            for opset in map(int, args.opsets.split(",")):
                for batchnorm in forms:
                    path = export(model, name, opset, batchnorm, folder)
                    ours, error = explain(path, args.image, args.threads, folder)
                    case = f"{name} {opset} {batchnorm}"
                    if error:
                        print(f"{case} | refused: {error}")
                        failures += 1
                        continue
                    logits64, maps64 = torch_maps(model, ours["input"], ours["target"], torch.float64)
                    runs32 = [torch_maps(model, x, ours["target"], torch.float32)[1] for x in nudged_inputs(ours["input"])]
                    logit_error = float(np.abs(ours["logits"] - logits64).max() / np.abs(logits64).max())
                    ok = logit_error <= 1e-4
                    cells = []
                    for rule in RULES:
                        mine = relative(ours[rule], maps64[rule])
                        theirs = [relative(run[rule], maps64[rule]) for run in runs32]
                        ok &= mine <= 2 * max(max(theirs), 1e-6)
                        cells.append(f"{mine:.2e}/{max(theirs):.2e},{theirs[0]:.2e}")
                    line = (f"{case} | {logit_error:.1e} | " + " | ".join(cells) + (" | ok" if ok else " | FAILED")
                            + f" | {ours['peak_mb']:.0f} MB ({ours['file_mb']:.0f} MB file)")
                    if args.timing:
                        pt_forward, pt_maps, our_forward, our_maps, speedup = timing(model, path, args.threads)
                        line += (f" | {pt_forward:.1f}, {pt_maps:.1f} | {our_forward:.1f}, {our_maps:.1f}"
                                 f" | {speedup:.2f}x")
                        speedups.append((speedup, case))
                    print(line, flush=True)
                    failures += not ok
    if speedups:
        mean = float(np.exp(np.mean([np.log(x) for x, _ in speedups])))
        slowest = min(speedups)
        print(f"speed (three maps, PyTorch's time / xaibench's): geometric mean {mean:.2f}x over {len(speedups)} "
              f"case(s), slowest {slowest[1]} {slowest[0]:.2f}x")
    print(f"families: {failures} case(s) refused or off")
    return 1 if args.check and failures else 0


if __name__ == "__main__":
    sys.exit(main())
