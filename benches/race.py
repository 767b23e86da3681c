#!/usr/bin/env python3
"""The side-by-side races: nnc against the peers in ../shared/peers, same machine, same run.
RACE (default `mlp,cnn`) picks them.

`mlp`: NumPy, PyTorch, JAX and the Rust peers that are built, same network (784-256-10
sigmoid, SGD lr 0.1, f32). Prints a markdown table of training samples/s, best of ROUNDS
runs over 1 and 2 threads, and nnc's ratio to the fastest peer; its last row is inference
at batch 1000, warmed up (each peer run ends by timing it on the 10,000 test images;
for nnc, `nnc bench --batch 1000`).

    python3 benches/race.py > race.md       # from the repository root, after
    cargo build --release                   # and, for the Rust peers,
    (cd ../shared/peers/rust && CARGO_TARGET_DIR=/tmp/rust-peers-target cargo build --release)

Batch 1 trains on 5,000 samples, the other batches one epoch of 60,000, as the peers'
run-all does. ROUNDS (default 2), BATCHES (default 1,32,64,256) and RUST_PEERS_DIR
(default /tmp/rust-peers-target/release) come from the environment.

`cnn`: PyTorch and JAX (`python/torch_cnn.py`, `jax_cnn.py --arch lenet|convnet`) against
benches/lenet.nn and benches/convnet.nn (the same networks, SGD lr 0.05, f32): training
samples/s at CNN_BATCHES (default 64,16), best of ROUNDS runs over 1 and 2 threads, on the
first LENET_SAMPLES (default 12,800) or CONVNET_SAMPLES (default 3,200) training images, and
inference at batch 1000 (each peer run ends by timing it on the 10,000 test images; for
nnc, `nnc bench --batch 1000`). With ROUNDS=1 the CNN race takes about 8 minutes on 2 cores.

Above each table it names the machine: the CPU (`lscpu`'s model name) and the SIMD
instructions nnc ran on, as its `nnc bench --json` reports them (`wide` as compiled,
the dense products' kernel as detected at run time). The next reader may have another kind
of CPU.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / "shared" / "peers"
DATA = ROOT.parent / "shared" / "data"
ROUNDS = int(os.environ.get("ROUNDS", "2"))
RUST = Path(os.environ.get("RUST_PEERS_DIR", "/tmp/rust-peers-target/release"))
BATCHES = [int(b) for b in os.environ.get("BATCHES", "1,32,64,256").split(",")]
RACES = os.environ.get("RACE", "mlp,cnn").split(",")
CNN_BATCHES = [int(b) for b in os.environ.get("CNN_BATCHES", "64,16").split(",")]
CNN_SAMPLES = {"lenet": int(os.environ.get("LENET_SAMPLES", "12800")),
               "convnet": int(os.environ.get("CONVNET_SAMPLES", "3200"))}


def samples(batch):
    return 5000 if batch == 1 else 60000


def peer_commands(batch, threads):
    args = ["--hidden", "256", "--act", "sigmoid", "--batch", str(batch),
            "--samples", str(samples(batch)), "--threads", str(threads)]
    for name, script in [("NumPy", "numpy_seed.py"), ("PyTorch", "torch_mlp.py"), ("JAX", "jax_mlp.py")]:
        yield name, [sys.executable, str(PEERS / "python" / script), *args]
    for name, exe in [("candle", "candle-peer"), ("burn-ndarray", "burn-ndarray"), ("burn-flex", "burn-flex"), ("dfdx", "dfdx-peer")]:
        if (RUST / exe).exists():
            yield name, [str(RUST / exe), *args, "--data", str(DATA / "mnist")]


def nnc_command(batch, threads):
    return [str(ROOT / "target" / "release" / "nnc"), "run", str(ROOT / "models" / "mnist_sigmoid.nn"),
            "--batch", str(batch), "--samples", str(samples(batch)), "--epochs", "1",
            "--threads", str(threads), "--json", "--quiet", "--data", str(DATA)]


def nnc_infer_command(threads):
    return [str(ROOT / "target" / "release" / "nnc"), "bench", str(ROOT / "models" / "mnist_sigmoid.nn"),
            "--batch", "1000", "--threads", str(threads), "--json", "--data", str(DATA)]


def cpu_name():
    """`lscpu`'s model name, else /proc/cpuinfo's, else "unknown"."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def run(cmd):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PEERS / "python")
    if out.returncode != 0:
        print(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    line = [l for l in out.stdout.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def machine_line(simd):
    machine = f"Measured on {cpu_name()} ({os.cpu_count()} logical cores)"
    if simd:
        machine += (f"; nnc's SIMD: {simd['wide']} element-wise (wide, as compiled), "
                    f"dense products by {simd.get('products', 'matrixmultiply ' + simd['matrixmultiply'])} "
                    "(detected at run time)")
    return machine + ".\n"


def race_mlp():
    best = {}
    infer = {}
    simd = None
    for r in range(ROUNDS):
        for batch in BATCHES:
            for threads in (1, 2):
                entries = list(peer_commands(batch, threads)) + [("nnc", nnc_command(batch, threads))]
                for name, cmd in entries:
                    key = "samples_per_second" if name == "nnc" else "train_samples_per_second"
                    report = run(cmd)
                    value = report and report[key]
                    print(f"round {r + 1} batch {batch} threads {threads} {name}: {value}", file=sys.stderr)
                    if value is not None:
                        best[(name, batch)] = max(best.get((name, batch), 0.0), value)
                        if name != "nnc":
                            # Every peer run ends by classifying the 10,000 test images in
                            # batches of 1000: best of 3 passes after a warm-up pass.
                            infer[name] = max(infer.get(name, 0.0), report["infer_samples_per_second"])
        for threads in (1, 2):
            # nnc's warmed-up inference at batch 1000 (pixels converted from u8 included).
            report = run(nnc_infer_command(threads))
            value = report and report["infer_samples_per_second"]
            print(f"round {r + 1} inference threads {threads} nnc: {value}", file=sys.stderr)
            if value is not None:
                infer["nnc"] = max(infer.get("nnc", 0.0), value)
                simd = report.get("simd")

    print(machine_line(simd))
    names = [n for n in ["NumPy", "PyTorch", "JAX", "candle", "burn-ndarray", "burn-flex", "dfdx"]
             if any((n, b) in best for b in BATCHES)]
    print("| batch | " + " | ".join(names) + " | **nnc** | nnc / fastest peer |")
    print("|---" * (len(names) + 3) + "|")
    for b in BATCHES:
        peers = [best.get((n, b)) for n in names]
        fastest = max(v for v in peers if v)
        nnc = best.get(("nnc", b), 0.0)
        cells = [f"{v:,.0f}" if v else "-" for v in peers]
        print(f"| {b} | " + " | ".join(cells) + f" | **{nnc:,.0f}** | {nnc / fastest:.2f}x |")
    peers = [infer.get(n) for n in names]
    fastest = max(v for v in peers if v)
    cells = [f"{v:,.0f}" if v else "-" for v in peers]
    print(f"| inference, batch 1000 | " + " | ".join(cells) + f" | **{infer.get('nnc', 0.0):,.0f}** | {infer.get('nnc', 0.0) / fastest:.2f}x |")


def cnn_peer_commands(arch, batch, threads):
    args = ["--arch", arch, "--batch", str(batch), "--samples", str(CNN_SAMPLES[arch]),
            "--threads", str(threads), "--data", str(DATA / "mnist")]
    for name, script in [("PyTorch", "torch_cnn.py"), ("JAX", "jax_cnn.py")]:
        yield name, [sys.executable, str(PEERS / "python" / script), *args]


def cnn_nnc_command(arch, batch, threads):
    return [str(ROOT / "target" / "release" / "nnc"), "run", str(ROOT / "benches" / f"{arch}.nn"),
            "--batch", str(batch), "--samples", str(CNN_SAMPLES[arch]), "--epochs", "1",
            "--threads", str(threads), "--json", "--quiet", "--data", str(DATA)]


def cnn_nnc_infer_command(arch, threads):
    return [str(ROOT / "target" / "release" / "nnc"), "bench", str(ROOT / "benches" / f"{arch}.nn"),
            "--batch", "1000", "--threads", str(threads), "--json", "--data", str(DATA)]


def race_cnn():
    """`lenet` and `convnet`: training samples/s per batch and inference at batch 1000,
    each framework's best over 1 and 2 threads and ROUNDS rounds."""
    names = ["PyTorch", "JAX"]
    best, infer, simd = {}, {}, None
    for r in range(ROUNDS):
        for arch in ("lenet", "convnet"):
            for batch in CNN_BATCHES:
                for threads in (1, 2):
                    entries = list(cnn_peer_commands(arch, batch, threads))
                    entries.append(("nnc", cnn_nnc_command(arch, batch, threads)))
                    for name, cmd in entries:
                        key = "samples_per_second" if name == "nnc" else "train_samples_per_second"
                        report = run(cmd)
                        value = report and report[key]
                        print(f"round {r + 1} {arch} batch {batch} threads {threads} {name}: {value}",
                              file=sys.stderr)
                        if value is not None:
                            best[(name, arch, batch)] = max(best.get((name, arch, batch), 0.0), value)
                            if name != "nnc":
                                infer[(name, arch)] = max(infer.get((name, arch), 0.0),
                                                          report["infer_samples_per_second"])
            for threads in (1, 2):
                report = run(cnn_nnc_infer_command(arch, threads))
                value = report and report["infer_samples_per_second"]
                print(f"round {r + 1} {arch} inference threads {threads} nnc: {value}", file=sys.stderr)
                if value is not None:
                    infer[("nnc", arch)] = max(infer.get(("nnc", arch), 0.0), value)
                    simd = report.get("simd")

    def row(label, values, nnc):
        peers = [v for v in values if v]
        fastest = max(peers) if peers else 0.0
        cells = [f"{v:,.0f}" if v else "-" for v in values]
        ratio = f"{nnc / fastest:.2f}x" if fastest and nnc else "-"
        print(f"| {label} | " + " | ".join(cells) + f" | **{nnc:,.0f}** | {ratio} |")

    print(machine_line(simd))
    print("| network | " + " | ".join(names) + " | **nnc** | nnc / fastest peer |")
    print("|---" * (len(names) + 3) + "|")
    for arch in ("lenet", "convnet"):
        for b in CNN_BATCHES:
            row(f"`{arch}`, train, batch {b}", [best.get((n, arch, b)) for n in names],
                best.get(("nnc", arch, b), 0.0))
        row(f"`{arch}`, inference, batch 1000", [infer.get((n, arch)) for n in names],
            infer.get(("nnc", arch), 0.0))


if "mlp" in RACES:
    race_mlp()
if "cnn" in RACES:
    if "mlp" in RACES:
        print()
    race_cnn()
