#!/usr/bin/python3
"""make_onnx_seeds.py - small ONNX models for fuzz/corpus/onnx (python3-onnx):

    tools/make_onnx_seeds.py [DIR]      (default fuzz/corpus/onnx)

seed-*.onnx load and exercise the ops of the torchvision families (channel moves and the chunk's
shape arithmetic, a squeeze-and-excitation block, a ConvNeXt block with its layer normalization
written out, a Pad before an AveragePool, PyTorch's pad arithmetic before reflect and edge Pads,
Slices and Concats along H and W, a non-local attention block, multi-query attention), so that fuzz_onnx mutates them;
bad-*.onnx are the bad inputs the reader must refuse in one line (tests/test_ops.c loads each):
shapes that do not broadcast, a Concat of mismatched ranks, a negative Pad, a reflect Pad as
large as its input, a MatMul of matrices that do not chain. Weights are seeded: the files are the
same on every run."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def tensor(name, shape, scale=0.3):
    return numpy_helper.from_array((scale * rng.standard_normal(shape)).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def conv(name, x, cin, cout, k, inits, group=1):
    inits += [tensor(name + ".w", [cout, cin // group, k, k]), tensor(name + ".b", [cout])]
    return helper.make_node("Conv", [x, name + ".w", name + ".b"], [name], pads=[k // 2] * 4, group=group)


def save(path, nodes, inits, inputs, output, opset=13):
    graph = helper.make_graph(nodes, os.path.basename(path), [inputs], [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="xaibench seeds")
    onnx.save(model, path)


def image(c, h, w):
    return helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])


def out(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])


def channel_ops(path):
    inits = [ints("one", [1]), ints("two", [2]), ints("zero", [0]), ints("grouped", [1, 2, 4, 4, 4]),
             ints("back", [1, -1, 4, 4])]
    nodes = [conv("c", "x", 3, 8, 3, inits), helper.make_node("Shape", ["c"], ["shape"]),
             helper.make_node("Gather", ["shape", "one"], ["channels"], axis=0),
             helper.make_node("Div", ["channels", "two"], ["half"]),
             helper.make_node("Slice", ["c", "zero", "half", "one"], ["left"]),
             helper.make_node("Slice", ["c", "half", "channels", "one"], ["right"]),
             helper.make_node("Relu", ["right"], ["right_relu"]),
             helper.make_node("Concat", ["right_relu", "left"], ["joined"], axis=1),
             helper.make_node("Reshape", ["joined", "grouped"], ["view"]),
             helper.make_node("Transpose", ["view"], ["swapped"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["swapped", "back"], ["shuffled"]),
             helper.make_node("Split", ["shuffled"], ["a", "b"], axis=1),
             helper.make_node("Concat", ["b", "a"], ["y"], axis=1)]
    save(path, nodes, inits, image(3, 4, 4), out("y", 8, 4, 4))


def se_block(path):
    inits = []
    nodes = [conv("c", "x", 3, 8, 3, inits), helper.make_node("HardSwish", ["c"], ["hs"]),
             helper.make_node("GlobalAveragePool", ["hs"], ["pooled"]), conv("r", "pooled", 8, 4, 1, inits),
             helper.make_node("Relu", ["r"], ["rr"]), conv("e", "rr", 4, 8, 1, inits),
             helper.make_node("HardSigmoid", ["e"], ["gate"], alpha=1 / 6),
             helper.make_node("Mul", ["hs", "gate"], ["scaled"]), helper.make_node("Sigmoid", ["scaled"], ["s"]),
             helper.make_node("Mul", ["scaled", "s"], ["silu"]),
             helper.make_node("ReduceMean", ["silu"], ["y"], axes=[2, 3], keepdims=0)]
    save(path, nodes, inits, image(3, 6, 6), out("y", 8), opset=14)


def convnext_block(path):
    inits = [tensor("ln.w", [8], 1.0), tensor("ln.b", [8]), scalar("two", 2.0), scalar("eps", 1e-6),
             tensor("fc1.w", [8, 16]), tensor("fc1.b", [16]), scalar("sqrt2", 2 ** 0.5), scalar("one", 1.0),
             scalar("half", 0.5), tensor("fc2.w", [16, 8]), tensor("fc2.b", [8]), tensor("ls", [8, 1, 1])]
    nodes = [conv("dw", "x", 8, 8, 3, inits, group=8),
             helper.make_node("Transpose", ["dw"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("ReduceMean", ["t"], ["mean"], axes=[-1]), helper.make_node("Sub", ["t", "mean"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["sq"]), helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
             helper.make_node("Add", ["var", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"]),
             helper.make_node("Div", ["d", "s"], ["n"]), helper.make_node("Mul", ["n", "ln.w"], ["nw"]),
             helper.make_node("Add", ["nw", "ln.b"], ["ln"]), helper.make_node("MatMul", ["ln", "fc1.w"], ["m1"]),
             helper.make_node("Add", ["fc1.b", "m1"], ["h"]), helper.make_node("Div", ["h", "sqrt2"], ["hs"]),
             helper.make_node("Erf", ["hs"], ["erf"]), helper.make_node("Add", ["erf", "one"], ["e1"]),
             helper.make_node("Mul", ["h", "e1"], ["g"]), helper.make_node("Mul", ["g", "half"], ["gelu"]),
             helper.make_node("MatMul", ["gelu", "fc2.w"], ["m2"]), helper.make_node("Add", ["fc2.b", "m2"], ["o"]),
             helper.make_node("Transpose", ["o"], ["back"], perm=[0, 3, 1, 2]),
             helper.make_node("Mul", ["ls", "back"], ["scaled"]), helper.make_node("Add", ["scaled", "dw"], ["y"])]
    save(path, nodes, inits, image(8, 5, 5), out("y", 8, 5, 5))


def pad_pool(path):
    inits = [ints("pads", [0, 0, 1, 1, 0, 0, 1, 1])]
    nodes = [conv("c", "x", 3, 4, 3, inits), helper.make_node("Pad", ["c", "pads"], ["padded"], mode="constant"),
             helper.make_node("AveragePool", ["padded"], ["y"], kernel_shape=[3, 3], strides=[1, 1])]
    save(path, nodes, inits, image(3, 5, 5), out("y", 4, 5, 5))


def pads(path):
    """PyTorch's export of F.pad(x, (1, 2, 1, 0), mode="reflect"): its pad order turned into
    ONNX's by int64 arithmetic (ConstantOfShape, Concat, Reshape, a reversing Slice, Transpose);
    then an edge Pad, an AveragePool with ceil_mode and constants broadcast along W and H."""
    inits = [ints("torch_pads", [1, 2, 1, 0]), ints("rank_left", [4]), ints("pairs", [-1, 2]),
             ints("start", [-1]), ints("end", [-9223372036854775807]), ints("axis", [0]), ints("step", [-1]),
             ints("flat", [-1]), ints("edge_pads", [0, 0, 0, 1, 0, 0, 1, 0]),
             tensor("along_w", [5]), tensor("along_h", [4, 1])]
    zeros = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
    nodes = [conv("c", "x", 3, 4, 3, inits),
             helper.make_node("ConstantOfShape", ["rank_left"], ["zeros"], value=zeros),
             helper.make_node("Concat", ["torch_pads", "zeros"], ["padded_list"], axis=0),
             helper.make_node("Reshape", ["padded_list", "pairs"], ["pair_rows"]),
             helper.make_node("Slice", ["pair_rows", "start", "end", "axis", "step"], ["reversed"]),
             helper.make_node("Transpose", ["reversed"], ["by_side"], perm=[1, 0]),
             helper.make_node("Reshape", ["by_side", "flat"], ["onnx_pads_any"]),
             helper.make_node("Cast", ["onnx_pads_any"], ["onnx_pads"], to=TensorProto.INT64),
             helper.make_node("Pad", ["c", "onnx_pads"], ["reflected"], mode="reflect"),
             helper.make_node("Pad", ["reflected", "edge_pads"], ["edged"], mode="edge"),
             helper.make_node("AveragePool", ["edged"], ["pooled"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1),
             helper.make_node("Mul", ["pooled", "along_w"], ["scaled"]),
             helper.make_node("Add", ["scaled", "along_h"], ["y"])]
    save(path, nodes, inits, image(3, 5, 5), out("y", 4, 4, 5))


def moves(path):
    """Space to depth (Slices of H and W with step 2), a flip of W, a Concat of columns, every
    third channel."""
    inits = [ints("axes_hw", [2, 3]), ints("two_two", [2, 2]), ints("big", [2 ** 62, 2 ** 62]),
             ints("corner0", [0, 0]), ints("corner1", [1, 1]), ints("last", [-1]), ints("before", [-2 ** 63]),
             ints("w_axis", [3]), ints("back", [-1]), ints("one", [1]), ints("end", [8]), ints("c_axis", [1]),
             ints("three", [3])]
    nodes = [conv("c", "x", 3, 4, 3, inits),
             helper.make_node("Slice", ["c", "corner0", "big", "axes_hw", "two_two"], ["even"]),
             helper.make_node("Slice", ["c", "corner1", "big", "axes_hw", "two_two"], ["odd"]),
             helper.make_node("Concat", ["even", "odd"], ["quarters"], axis=1),
             helper.make_node("Slice", ["quarters", "last", "before", "w_axis", "back"], ["flipped"]),
             helper.make_node("Concat", ["quarters", "flipped"], ["beside"], axis=-1),
             helper.make_node("Slice", ["beside", "one", "end", "c_axis", "three"], ["y"])]
    save(path, nodes, inits, image(3, 4, 4), out("y", 3, 2, 4))


def attention(path):
    """A non-local block: Softmax(theta^T phi) g over the positions, MatMul of two values."""
    inits = [ints("flat", [0, 2, 16]), ints("image", [0, 2, 4, 4])]
    nodes = [conv("theta", "x", 3, 2, 1, inits), conv("phi", "x", 3, 2, 1, inits), conv("g", "x", 3, 2, 1, inits)]
    for name in ("theta", "phi", "g"):
        nodes.append(helper.make_node("Reshape", [name, "flat"], [name + "_rows"]))
    nodes += [helper.make_node("Transpose", ["theta_rows"], ["theta_t"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["theta_t", "phi_rows"], ["scores"]),
              helper.make_node("Softmax", ["scores"], ["weights"], axis=-1),
              helper.make_node("Transpose", ["g_rows"], ["g_t"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["weights", "g_t"], ["attended"]),
              helper.make_node("Transpose", ["attended"], ["attended_t"], perm=[0, 2, 1]),
              helper.make_node("Reshape", ["attended_t", "image"], ["y"])]
    save(path, nodes, inits, image(3, 4, 4), out("y", 2, 4, 4))


def shared_operand(path):
    """Multi-query attention: two heads of queries against one key and one value (MatMul with B of
    one group), then the key times the two heads' results (A of one group)."""
    inits = [ints("heads", [0, 2, 2, 4]), ints("one_head", [0, 1, 2, 4]), ints("columns", [0, 2, 4, 2])]
    nodes = [conv("q", "x", 3, 4, 1, inits), conv("k", "x", 3, 2, 1, inits), conv("v", "x", 3, 2, 1, inits),
             helper.make_node("Reshape", ["q", "heads"], ["q_heads"]),
             helper.make_node("Reshape", ["k", "one_head"], ["k_head"]),
             helper.make_node("Reshape", ["v", "one_head"], ["v_head"]),
             helper.make_node("Transpose", ["k_head"], ["k_t"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q_heads", "k_t"], ["scores"]),
             helper.make_node("Softmax", ["scores"], ["weights"], axis=-1),
             helper.make_node("MatMul", ["weights", "v_head"], ["attended"]),
             helper.make_node("Reshape", ["attended", "columns"], ["attended_columns"]),
             helper.make_node("MatMul", ["k_head", "attended_columns"], ["y"])]
    save(path, nodes, inits, image(3, 2, 2), out("y", 2, 2, 2))


def bad_matmul_shapes(path):
    inits = [ints("flat", [0, 2, 16])]
    nodes = [conv("a", "x", 3, 2, 1, inits), helper.make_node("Reshape", ["a", "flat"], ["rows"]),
             helper.make_node("MatMul", ["rows", "rows"], ["y"])]
    save(path, nodes, inits, image(3, 4, 4), out("y", 2, 16))


def bad_pad_reflect(path):
    inits = [ints("pads", [0, 0, 5, 0, 0, 0, 0, 0])]
    nodes = [conv("c", "x", 3, 4, 3, inits), helper.make_node("Pad", ["c", "pads"], ["y"], mode="reflect")]
    save(path, nodes, inits, image(3, 5, 5), out("y", 4, 10, 5))


def bad_mul_broadcast(path):
    inits = []
    nodes = [conv("a", "x", 3, 4, 3, inits), conv("b", "x", 3, 2, 3, inits),
             helper.make_node("Mul", ["a", "b"], ["y"])]
    save(path, nodes, inits, image(3, 5, 5), out("y", 4, 5, 5))


def bad_concat_ranks(path):
    inits = []
    nodes = [conv("a", "x", 3, 4, 3, inits), helper.make_node("GlobalAveragePool", ["a"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("Concat", ["a", "f"], ["y"], axis=1)]
    save(path, nodes, inits, image(3, 5, 5), out("y", 8, 5, 5))


def bad_pad_negative(path):
    inits = [ints("pads", [0, 0, -1, 0, 0, 0, 0, 0])]
    nodes = [conv("c", "x", 3, 4, 3, inits), helper.make_node("Pad", ["c", "pads"], ["y"], mode="constant")]
    save(path, nodes, inits, image(3, 5, 5), out("y", 4, 4, 5))


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/onnx"
    for name, make in [("seed-channel-ops", channel_ops), ("seed-se-block", se_block),
                       ("seed-convnext-block", convnext_block), ("seed-pad-pool", pad_pool),
                       ("bad-mul-broadcast", bad_mul_broadcast), ("bad-concat-ranks", bad_concat_ranks),
                       ("bad-pad-negative", bad_pad_negative), ("seed-pads", pads),
                       ("bad-pad-reflect", bad_pad_reflect), ("seed-moves", moves), ("seed-attention", attention),
                       ("bad-matmul-shapes", bad_matmul_shapes),
                       ("seed-shared-operand", shared_operand)]:
        make(os.path.join(folder, name + ".onnx"))


if __name__ == "__main__":
    main()
