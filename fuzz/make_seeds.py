#!/usr/bin/env python3
"""Writes the generated seed inputs of the `weights` and `idx` fuzz targets into seeds/.

The `front_end` seeds are the models in ../models plus the hand-written files already in
seeds/front_end. Run from anywhere: python3 fuzz/make_seeds.py
"""
import json
import struct
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"


def safetensors(tensors, dtype="F32", metadata=None):
    """A safetensors file: u64 LE header length, JSON header, little-endian data."""
    header, data = {}, b""
    for name, shape, values in tensors:
        raw = b"".join(struct.pack("<f", v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + data


def ramp(n, scale=0.25):
    return [(i - n / 2) * scale for i in range(n)]


# The parameters of the two models in fuzz_targets/weights.rs, as nnc names them.
NARROW = [("h.weight", [2, 3], ramp(6)), ("h.bias", [2], ramp(2)), ("output.weight", [2, 2], ramp(4))]
WIDE = [
    ("h.dense.weight", [32, 2], ramp(64, 0.01)),
    ("h.dense.bias", [32], ramp(32, 0.01)),
    ("h.weight", [2, 32], ramp(64, 0.01)),
    ("h.bias", [2], [0.0, -0.0]),
]


def weights_seeds():
    yield "narrow.safetensors", safetensors(NARROW)
    yield "wide.safetensors", safetensors(WIDE, metadata={"format": "pt"})
    yield "special_values.safetensors", safetensors(
        [("h.weight", [2, 3], [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-45]),
         NARROW[1], NARROW[2]])
    yield "wrong_shape.safetensors", safetensors([("h.weight", [3, 2], ramp(6)), NARROW[1], NARROW[2]])
    yield "extra_and_missing.safetensors", safetensors([NARROW[0], ("h.beta", [2], ramp(2))])
    yield "f16.safetensors", safetensors([("h.weight", [2, 3], ramp(3))], dtype="F16")  # 12 bytes: 6 halves
    yield "truncated.safetensors", safetensors(NARROW)[:-5]
    yield "empty_header.safetensors", struct.pack("<Q", 2) + b"{}"


def idx_images(images, rows, cols):
    pixels = bytes(p for image in images for p in image)
    return struct.pack(">4B3I", 0, 0, 8, 3, len(images), rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">4BI", 0, 0, 8, 1, len(labels)) + bytes(labels)


def dataset(*files):
    """The idx target's input: four files, each after its u32 LE length."""
    return b"".join(struct.pack("<I", len(f)) + f for f in files)


def idx_seeds():
    small = [[(7 * i + j) % 256 for j in range(6)] for i in range(3)]
    train_images, train_labels = idx_images(small, 2, 3), idx_labels([0, 9, 4])
    test_images, test_labels = idx_images(small[:2], 2, 3), idx_labels([1, 3])
    yield "small.idx4", dataset(train_images, train_labels, test_images, test_labels)
    digit = [[0] * 300 + [255, 128, 64] * 60 + [0] * 304, [(i * 31) % 256 for i in range(784)]]
    yield "28x28.idx4", dataset(idx_images(digit, 28, 28), idx_labels([5, 0]),
                                idx_images(digit[:1], 28, 28), idx_labels([7]))
    yield "label_out_of_range.idx4", dataset(train_images, idx_labels([0, 12, 4]), test_images, test_labels)
    yield "counts_differ.idx4", dataset(train_images, idx_labels([0, 1]), test_images, test_labels)
    yield "sizes_differ.idx4", dataset(train_images, train_labels, idx_images([[1] * 6] * 2, 3, 2), test_labels)
    yield "truncated.idx4", dataset(train_images[:-1], train_labels, test_images, test_labels)
    yield "swapped.idx4", dataset(train_labels, train_images, test_images, test_labels)
    yield "huge_header.idx4", dataset(struct.pack(">4B3I", 0, 0, 8, 3, 0xFFFFFFFF, 0xFFFF, 0xFFFF),
                                      train_labels, test_images, test_labels)


for target, seeds in [("weights", weights_seeds()), ("idx", idx_seeds())]:
    (SEEDS / target).mkdir(parents=True, exist_ok=True)
    for name, data in seeds:
        (SEEDS / target / name).write_bytes(data)
