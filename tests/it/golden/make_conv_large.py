#!/usr/bin/env python3
"""Writes tests/it/golden/conv_large.json: PyTorch conv2d cases large enough for the fast paths.

Run from the repository root, with PyTorch (CPU is enough):

    /work/torchenv/bin/python tests/it/golden/make_conv_large.py

The cases of ops.json are small and odd-sized, so they take the scalar conv kernels. These take
the register-blocked vec4 kernels (W % 4 = 0, Wo % 4 = 0, W = stride·Wo) and, on adapters with
subgroups of 8 (lavapipe), the subgroup kernels (Wo % 8 = 0; stride-2 dx: W % 8 = 0):

- conv3x3_s1_p1_16to16_32x32: 3×3, stride 1, padding 1, Cin 16 → Cout 16, 32×32 input;
- conv3x3_s2_p1_8to16_32x32: 3×3, stride 2, padding 1, Cin 8 → Cout 16, 32×32 input (16×16 out).

Same layout and conventions as ../shared/golden/golden_ops.json (see extract.py): seeded float32
inputs (x and gy standard normal, weights and bias uniform in ±1/sqrt(Cin·k·k) as
torch.nn.Conv2d initialises them), then in float64 `y = F.conv2d(x, w, b, stride, padding)`
(zero padding, N = 1) and `y.backward(gy)`: dx, dw, db are gradients of sum(y * gy). Every number
is written with 9 significant digits, so the inputs read back as the same float32 values. The
output is deterministic (fixed seed, one thread, deterministic algorithms).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ beside the fixtures
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract import write  # noqa: E402  (the fixture's JSON writer)

OUT = "tests/it/golden/conv_large.json"
SEED = 20240614
# (name, cin, cout, k, stride, h, w)
CASES = [
    ("conv3x3_s1_p1_16to16_32x32", 16, 16, 3, 1, 32, 32),
    ("conv3x3_s2_p1_8to16_32x32", 8, 16, 3, 2, 32, 32),
]


def tensor(t):
    """A tensor as the fixture stores it: its shape and its values, 9 significant digits."""
    data = [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


def case(gen, name, cin, cout, k, stride, h, w):
    pad = (k - 1) // 2
    bound = 1.0 / math.sqrt(cin * k * k)
    x = torch.randn(1, cin, h, w, generator=gen, dtype=torch.float32)
    wt = (torch.rand(cout, cin, k, k, generator=gen, dtype=torch.float32) * 2 - 1) * bound
    b = (torch.rand(cout, generator=gen, dtype=torch.float32) * 2 - 1) * bound
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    gy = torch.randn(1, cout, ho, wo, generator=gen, dtype=torch.float32)
    # float64 from the float32 values.
    x64, w64, b64 = (t.double().requires_grad_() for t in (x, wt, b))
    y = F.conv2d(x64, w64, b64, stride=stride, padding=pad)
    y.backward(gy.double())
    return {
        "name": name,
        "op": "conv2d",
        "params": {"stride": stride, "padding": pad, "kernel": k, "padding_mode": "zeros"},
        "inputs": {"x": tensor(x), "w": tensor(wt), "b": tensor(b), "gy": tensor(gy)},
        "outputs": {
            "y": tensor(y),
            "dx": tensor(x64.grad),
            "dw": tensor(w64.grad),
            "db": tensor(b64.grad),
        },
    }


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    meta = {
        "generator": "tests/it/golden/make_conv_large.py",
        "torch": torch.__version__,
        "seed": SEED,
        "layout": "row-major flat lists; images NCHW (N=1); conv weight (Cout,Cin,kh,kw)",
        "precision": "inputs f32-representable; outputs computed in float64, 9 significant digits",
        "grad_convention": "grads of sum(y*gy)",
    }
    cases = [case(gen, *c) for c in CASES]
    write(OUT, {"meta": meta, "cases": cases})
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
