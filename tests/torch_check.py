"""Runs a PyTorch module written by `nnc export --format torch` with nnc's weights and
compares its outputs with nnc's own forward pass on the same inputs (tests/export.rs
writes them, when NNC_TORCH_CHECK=1 asks for this check).

    python3 tests/torch_check.py MODEL.py WEIGHTS.safetensors INPUTS.f32 EXPECTED.f32 [--tolerance 1e-5]

The weights must load with `strict=True` as the file is; outputs are compared in eval
mode, all samples at once and in batches of 7. A forward pass in training mode must run
too (dropout active, batch norm on the batch's statistics, its counter moving). Prints
one JSON object and exits 0 when every output is within the tolerance (of max(1, |nnc's value|)), 1 otherwise.
Needs torch and safetensors (not in tests/requirements.txt: CI only compiles the file).
"""

import argparse
import importlib.util
import json
import sys

import numpy as np
import safetensors.torch
import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("weights")
    parser.add_argument("inputs")
    parser.add_argument("expected")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("exported", args.module)
    exported = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(exported)
    torch.set_num_threads(1)
    model = exported.Model()
    state = safetensors.torch.load_file(args.weights)
    model.load_state_dict(state, strict=True)
    if sorted(model.state_dict()) != sorted(state):
        print("torch_check: the module's tensors are not the file's", file=sys.stderr)
        sys.exit(1)
    model.eval()

    shape = tuple(model.input_shape)
    inputs = np.fromfile(args.inputs, dtype="<f4").reshape((-1,) + shape)
    expected = np.fromfile(args.expected, dtype="<f4").reshape(inputs.shape[0], -1)
    with torch.no_grad():
        x = torch.from_numpy(inputs.copy())
        whole = model(x).reshape(inputs.shape[0], -1).numpy()
        pieces = np.concatenate(
            [model(x[i : i + 7]).reshape(len(x[i : i + 7]), -1).numpy() for i in range(0, len(x), 7)]
        )
        diff = max(float(np.abs(whole - expected).max()), float(np.abs(pieces - expected).max()))
        # Relative to the value beyond 1: a regression's outputs of a few hundred are only
        # good to a few 1e-5 in float32 (PyTorch's products add in another order).
        scale = np.maximum(1.0, np.abs(expected))
        scaled = max(
            float((np.abs(whole - expected) / scale).max()),
            float((np.abs(pieces - expected) / scale).max()),
        )
        agree = float((whole.argmax(1) == expected.argmax(1)).mean()) if expected.shape[1] > 1 else 1.0

        counts = {k: int(v) for k, v in model.state_dict().items() if k.endswith("num_batches_tracked")}
        model.train()
        trained = model(x[: min(len(x), 16)])
        moved = all(int(model.state_dict()[k]) == v + 1 for k, v in counts.items())
        finite = bool(torch.isfinite(trained).all())

    report = {
        "samples": int(inputs.shape[0]),
        "max_abs_diff": diff,
        "max_scaled_diff": scaled,
        "agree_on_class": agree,
        "tensors": len(state),
        "train_mode_finite": finite,
        "batchnorm_counted": moved,
        "torch": torch.__version__,
    }
    print(json.dumps(report))
    ok = scaled <= args.tolerance and finite and moved
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
