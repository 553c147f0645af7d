#!/usr/bin/env python3
"""Export torchvision's ImageNet-trained ResNet18 to ONNX for xaibench (for users with PyTorch
and network access; xaibench itself never needs PyTorch).

usage: tools/export_resnet18.py OUT.onnx

The graph keeps a symbolic batch dimension, opset 13, input "input" [N,3,224,224] and output
"logits" [N,1000]; BatchNormalization is exported as is (eval mode) and folded by xaibench.
"""
import sys

import torch
import torchvision


def main():
    out = sys.argv[1]
    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
    model.eval()
    example = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(model, example, out, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
