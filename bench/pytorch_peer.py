"""pytorch_peer.py - what the benchmarks against PyTorch share (bench/vs_pytorch.py,
bench/methods_vs_pytorch.py, bench/families.py): the three rules as an autograd function at a
rectifier, xaibench's seeded ResNet18 as ONNX, and torchvision's resnet18 holding its weights.
Imported after the caller has checked that torch, torchvision and onnx are installed."""
import os
import subprocess
import sys

import onnx
import torch
import torchvision
from onnx import numpy_helper


class Rule:
    """The rule the next backward pass applies at every rectifier (read when it runs, so that one
    forward serves all three); with active False the rectifiers are PyTorch's own."""
    name = "saliency"
    active = True


class RectifierFunction(torch.autograd.Function):
    """clamp(x, lo, hi) forward; backward, with g the incoming gradient and the mask lo < x < hi:
    saliency g * mask, deconvnet max(g, 0), guided backprop max(g, 0) * mask."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return x.clamp(min=lo, max=hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = (x > lo) & (x < hi)
        if Rule.name == "saliency":
            return g * mask, None, None
        if Rule.name == "deconvnet":
            return g.clamp(min=0), None, None
        return g.clamp(min=0) * mask, None, None


class RuleReLU(torch.nn.Module):
    """A ReLU module whose backward is the current rule."""

    def forward(self, x):
        return RectifierFunction.apply(x, 0.0, float("inf"))


def seeded_model(path):
    """build/xaibench's seeded ResNet18 (seed 1) at path, written once."""
    if not os.path.exists(path):
        subprocess.run(["build/xaibench", "model", "init", "--arch", "resnet18", "--seed", "1", "-o", path], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def torch_resnet18(onnx_path, relu=None):
    """torchvision's resnet18 with the ONNX file's weights (initializers named as its state dict),
    in eval mode, its parameters frozen; with relu, a module class put in place of every ReLU
    (BasicBlock uses its one ReLU module twice: the attribute is replaced, so both uses are)."""
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(onnx_path).graph.initializer}
    model = torchvision.models.resnet18(num_classes=weights["fc.bias"].shape[0])
    state = model.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"{onnx_path} lacks {missing[:3]}")
    model.load_state_dict({k: weights.get(k, state[k]) for k in state})
    for module in list(model.modules()) if relu else []:
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, relu())
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()
