#!/usr/bin/env python3
"""PyTorch takes the weights nnc saves for the residual nets written with blocks, by name
and layout, and predicts what nnc predicts. Run by hand (PyTorch is too large a download
for CI), after training and saving:

    nnc run models/mnist_resnet.nn --save resnet.safetensors
    python3 tests/torch_load_resnet.py models/mnist_resnet.nn resnet.safetensors \
        ../shared/data/mnist target/release/nnc [--set width=8 --set depth=2]

The module is written by hand after the file, as a PyTorch user would: each block call is
a submodule named as nnc names it (`stem`, `s1.0.y`, `s2.residual_down.s`, `s2.repeat.1`),
`repeat` an `nn.Sequential` (numbered from 0 in both), and a line whose last layer has
parameters gives them to the binding (`s1.0.y2.weight` is the batch norm of `y2`, beside
its convolution `s1.0.y2.conv2d.weight`). `load_state_dict(..., strict=True)` must take the
file as it is (every tensor present, none left over, every shape PyTorch's); the 10,000
test images are then evaluated in eval mode and accuracy and mean cross-entropy compared
with `nnc eval --json` on the same weights. Exit 1 on any difference beyond float rounding.
Width and depth are read from the `let`s of the file (and `--set`). Needs torch,
safetensors and numpy.
"""
import re
import sys
from pathlib import Path

from torch import nn
import torch.nn.functional as F

from torch_load import agree_with_nnc


def conv_bn(channels_in, filters, kernel, stride=1):
    """`x |> conv2d(filters, kernel, stride, pad = same, bias = false) |> batchnorm` as
    the last layers of a line: the batch norm holds the binding's name, the convolution
    is its child `conv2d`."""
    bn = nn.BatchNorm2d(filters)
    bn.conv2d = nn.Conv2d(channels_in, filters, kernel, stride, padding=kernel // 2, bias=False)
    return bn


def same_pad(x, kernel, stride):
    """nnc's (and TensorFlow's) `same` padding at stride 2: the odd pixel after."""
    total = max((-(-x.shape[-1] // stride) - 1) * stride + kernel - x.shape[-1], 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class Residual(nn.Module):
    """`block residual(x, filters)`: conv, batch norm, relu; conv, batch norm; add, relu."""

    def __init__(self, filters):
        super().__init__()
        self.y = nn.Module()
        self.y.conv2d = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.y.batchnorm = nn.BatchNorm2d(filters)
        self.y2 = conv_bn(filters, filters, 3)

    def forward(self, x):
        y = F.relu(self.y.batchnorm(self.y.conv2d(x)))
        return F.relu(x + self.y2(self.y2.conv2d(y)))


class ResidualDown(nn.Module):
    """`block residual_down(x, filters)`: the same at stride 2, with a 1x1 shortcut."""

    def __init__(self, channels_in, filters):
        super().__init__()
        self.y = nn.Module()
        self.y.conv2d = nn.Conv2d(channels_in, filters, 3, 2, bias=False)
        self.y.batchnorm = nn.BatchNorm2d(filters)
        self.y2 = conv_bn(filters, filters, 3)
        self.s = conv_bn(channels_in, filters, 1, 2)
        self.s.conv2d.padding = (0, 0)

    def forward(self, x):
        y = F.relu(self.y.batchnorm(self.y.conv2d(same_pad(x, 3, 2))))
        y2 = self.y2(self.y2.conv2d(y))
        return F.relu(self.s(self.s.conv2d(x)) + y2)


class ResNet(nn.Module):
    """models/mnist_resnet.nn, node for node."""

    def __init__(self, width, depth, stem_kernel):
        super().__init__()
        self.stem = nn.Module()
        self.stem.conv2d = nn.Conv2d(1, width, stem_kernel, padding=stem_kernel // 2, bias=False)
        self.stem.batchnorm = nn.BatchNorm2d(width)
        self.s1 = nn.Sequential(*[Residual(width) for _ in range(depth)])
        self.s2 = nn.Module()
        self.s2.residual_down = ResidualDown(width, 2 * width)
        self.s2.repeat = nn.Sequential(*[Residual(2 * width) for _ in range(depth)])
        # The output line's one layer with parameters names them after it: `output.weight`.
        self.output = nn.Linear(2 * width, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem.batchnorm(self.stem.conv2d(x))), 2)
        x = self.s2.repeat(self.s2.residual_down(self.s1(x)))
        return self.output(x.mean((2, 3)))  # logits; softmax inside the loss


def settings(model, sets):
    """The file's `let`s as whole numbers, then `--set NAME=VALUE` over them."""
    lets = dict(re.findall(r"^let\s+(\w+)\s*=\s*(\d+)", model.read_text(), re.M))
    lets.update(s.split("=", 1) for s in sets)
    return {k: int(v) for k, v in lets.items()}


def main():
    model, weights, data, nnc = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    sets = [a for flag, a in zip(sys.argv[5:], sys.argv[6:]) if flag == "--set"]
    lets = settings(model, sets)
    stem = int(re.search(r"stem\s*=\s*x \|> conv2d\(\w+, (\d+)", model.read_text()).group(1))
    net = ResNet(lets["width"], lets["depth"], stem)
    command = [nnc, "eval", str(model), "--weights", str(weights), "--data", str(data.parent), "--json"]
    for s in sets:
        command += ["--set", s]
    agree_with_nnc(net, weights, data, command)


if __name__ == "__main__":
    main()
