#!/usr/bin/env python3
"""Writes the CNN peers' initial weights (../shared/peers/python/cnn_common.py's `init_params`,
the same numbers torch_cnn.py and jax_cnn.py start from) as safetensors, as their `--init-out`
does: `python3 tests/peer_cnn_init.py ARCH OUT.safetensors`. Needs numpy only."""
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "peers" / "python"))
import cnn_common  # noqa: E402

arch, out = sys.argv[1], Path(sys.argv[2])
cnn_common.write_init(SimpleNamespace(arch=arch, init_out=out))
