#!/usr/bin/env python3
"""PyTorch takes the weights nnc saves for a CNN, by name and layout, and predicts what nnc
predicts. Run by hand (PyTorch is too large a download for CI), after training and saving:

    nnc run models/mnist_cnn.nn --save cnn.safetensors
    python3 tests/torch_load.py cnn.safetensors ../shared/data/mnist target/release/nnc

It builds models/mnist_cnn.nn as a torch.nn.Module whose submodules carry nnc's node names
(`c1.conv2d`, `c1.batchnorm`, `h`, ...), loads the file with `load_state_dict(..., strict=True)`
(every tensor present, no tensor left over, every shape PyTorch's: conv weights [out, in,
kh, kw], dense weights [out, in], batch norm's running statistics and its int64
`num_batches_tracked`), evaluates the 10,000 test images in eval mode and compares
accuracy and mean cross-entropy with `nnc eval --json` on the same weights. Exit 1 on any
difference beyond float rounding. Needs torch, safetensors and numpy.
"""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
import torch.nn.functional as F


def module(**children):
    m = nn.Module()
    for name, child in children.items():
        setattr(m, name, child)
    return m


class MnistCnn(nn.Module):
    """models/mnist_cnn.nn, node for node."""

    def __init__(self):
        super().__init__()
        self.c1 = module(conv2d=nn.Conv2d(1, 16, 5, padding=2), batchnorm=nn.BatchNorm2d(16))
        self.c2 = module(conv2d=nn.Conv2d(16, 32, 5, padding=2), batchnorm=nn.BatchNorm2d(32))
        # A binding's one dense layer names its tensors after the binding: `h.weight`.
        self.h = nn.Linear(32 * 7 * 7, 128)
        self.output = nn.Linear(128, 10)

    def forward(self, x):
        for block in (self.c1, self.c2):
            x = F.max_pool2d(F.relu(block.batchnorm(block.conv2d(x))), 2)
        x = F.relu(self.h(x.flatten(1)))  # dropout: identity in eval mode
        return self.output(x)  # logits; softmax inside the loss


def idx(path):
    raw = Path(path)
    data = gzip.decompress(raw.read_bytes()) if raw.suffix == ".gz" else raw.read_bytes()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    sys.exit(f"no {stem} in {folder}")


def agree_with_nnc(net, weights, data, eval_command):
    """Loads `weights` into `net` strictly, evaluates the 10,000 test images of `data` in
    eval mode, and exits 1 unless accuracy and mean cross-entropy are those that
    `eval_command` (an `nnc eval ... --json` command line) prints."""
    net.load_state_dict(load_file(weights), strict=True)  # raises on any mismatch
    net.eval()
    images = idx(find(data, "t10k-images-idx3-ubyte")).astype(np.float32) / np.float32(255)
    labels = torch.from_numpy(idx(find(data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    with torch.no_grad():
        logits = net(torch.from_numpy(images).reshape(-1, 1, 28, 28))
    accuracy = (logits.argmax(1) == labels).double().mean().item()
    loss = F.cross_entropy(logits.double(), labels).item()
    ours = json.loads(subprocess.run(eval_command, check=True, capture_output=True, text=True).stdout)
    print(json.dumps({
        "tensors": len(net.state_dict()),
        "torch_accuracy": accuracy, "nnc_accuracy": ours["test_accuracy"],
        "torch_loss": loss, "nnc_loss": ours["test_loss"],
    }))
    if abs(accuracy - ours["test_accuracy"]) > 1e-6 or abs(loss - ours["test_loss"]) > 1e-5:
        sys.exit("PyTorch and nnc disagree")


def main():
    weights, data, nnc = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    repo = Path(__file__).resolve().parents[1]
    command = [nnc, "eval", str(repo / "models/mnist_cnn.nn"), "--weights", str(weights),
               "--data", str(data.parent), "--json"]
    agree_with_nnc(MnistCnn(), weights, data, command)


if __name__ == "__main__":
    main()
