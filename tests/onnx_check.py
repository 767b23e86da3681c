"""Runs an ONNX model written by `nnc export` in onnxruntime and compares its outputs with
nnc's own forward pass on the same inputs (tests/export.rs writes both).

    python3 tests/onnx_check.py MODEL.onnx INPUTS.f32 EXPECTED.f32 [--tolerance 1e-5]

INPUTS.f32 and EXPECTED.f32 are raw little-endian float32, sample after sample, shaped
by the model's own input and output (`[batch, ...]`). The model must pass ONNX's full
checker (schema, types and shape inference), import opset 17 or later, and have one
input `input` and one output `output`, each with the symbolic batch dimension `batch`.
It is run on all samples at once, one at a time for the first few, and in batches of 7.

Prints one JSON object (`max_abs_diff`, `samples`, ...) and exits 0 when every output is
within the tolerance, 1 otherwise. A missing onnxruntime, onnx or numpy is an
ImportError, exit 1: .ci/run installs them (tests/requirements.txt).
"""

import argparse
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def fail(message):
    print(f"onnx_check: {message}", file=sys.stderr)
    sys.exit(1)


def check_structure(model):
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", 0) < 17:
        fail(f"the default opset is {opsets.get('')}, at least 17 is required")
    graph = model.graph
    if [i.name for i in graph.input] != ["input"]:
        fail(f"inputs are {[i.name for i in graph.input]}, expected ['input']")
    if [o.name for o in graph.output] != ["output"]:
        fail(f"outputs are {[o.name for o in graph.output]}, expected ['output']")
    for value in (graph.input[0], graph.output[0]):
        first = value.type.tensor_type.shape.dim[0]
        if first.dim_param != "batch":
            fail(f"`{value.name}` does not lead with the symbolic dimension `batch`")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("inputs")
    parser.add_argument("expected")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    check_structure(onnx.load(args.model))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machine is shared with the other tests
    session = ort.InferenceSession(
        args.model, options, providers=["CPUExecutionProvider"]
    )
    [input_info] = session.get_inputs()
    [output_info] = session.get_outputs()
    per_sample = [int(d) for d in input_info.shape[1:]]
    inputs = np.fromfile(args.inputs, dtype="<f4").reshape([-1] + per_sample)
    samples = inputs.shape[0]
    expected = np.fromfile(args.expected, dtype="<f4").reshape(samples, -1)

    def run(x):
        [y] = session.run(["output"], {"input": x})
        return y.reshape(x.shape[0], -1)

    whole = run(inputs)
    if whole.shape != expected.shape:
        fail(f"onnxruntime gave {whole.shape}, nnc {expected.shape}")
    singles = np.concatenate([run(inputs[i : i + 1]) for i in range(min(5, samples))])
    sevens = np.concatenate([run(inputs[i : i + 7]) for i in range(0, samples, 7)])
    diffs = {
        "whole": float(np.abs(whole - expected).max()),
        "batch_1": float(np.abs(singles - expected[: len(singles)]).max()),
        "batch_7": float(np.abs(sevens - expected).max()),
    }
    worst = max(diffs.values())
    report = {
        "max_abs_diff": worst,
        "max_abs_diff_by_batch": diffs,
        "samples": samples,
        "input_shape": [str(d) for d in input_info.shape],
        "output_shape": [str(d) for d in output_info.shape],
        "onnxruntime": ort.__version__,
        "agree_on_class": float(
            (whole.argmax(axis=1) == expected.argmax(axis=1)).mean()
        ),
    }
    print(json.dumps(report))
    if not np.isfinite(expected).all():
        fail("nnc's outputs are not all finite")
    if not np.isfinite(whole).all():
        fail("onnxruntime's outputs are not all finite")
    if not worst <= args.tolerance:  # NaN fails too
        fail(f"outputs differ from nnc's by up to {worst:.3g} (tolerance {args.tolerance:g})")


if __name__ == "__main__":
    main()
