#!/usr/bin/env python3
"""Writes tests/it/golden/ops.json: the cases of ../shared/golden/golden_ops.json the tests use.

Run from the repository root (python3, standard library only):

    python3 tests/it/golden/extract.py [path/to/golden_ops.json]

The fixture keeps golden_ops.json's own layout, `{"meta": {...}, "cases": [{name, op, params,
inputs, outputs}]}`, every tensor `{"shape": [...], "data": [...]}`, and copies each case
verbatim (the numbers as PyTorch printed them: float64 from float32-representable inputs, 9
significant digits); `meta` is the source's plus where the file came from. The output is
deterministic: the cases in the order of CASES below, keys in the source's order, one tensor
per line. tests/it/golden/mod.rs reads it (and conv_large.json, made by make_conv_large.py).
"""
import json
import sys

SRC = "../shared/golden/golden_ops.json"
OUT = "tests/it/golden/ops.json"

# Every case a test reads (tests/it/golden_conv.rs, batchnorm.rs, elementwise.rs, resample.rs,
# loss.rs, adam.rs, net.rs).
CASES = [
    "conv3x3_s1_p1",
    "conv3x3_s2_p1_odd",
    "conv3x3_s2_p1_even",
    "conv5x5_s1_p2",
    "conv1x1",
    "batchnorm2d_train_c4_7x7",
    "batchnorm2d_train_c3_6x6",
    "leaky_relu_0.2",
    "sigmoid",
    "upsample_nearest_x2_5x5",
    "upsample_nearest_x2_8x8",
    "upsample_bilinear_x2_5x5",
    "upsample_bilinear_x2_6x6",
    "masked_mse_5ch",
    "adam_3_steps",
    "mini_dip_16x16",
]


def is_tensor(v):
    return isinstance(v, dict) and set(v) == {"shape", "data"}


def has_tensor(v):
    if is_tensor(v):
        return True
    if isinstance(v, dict):
        return any(has_tensor(x) for x in v.values())
    if isinstance(v, list):
        return any(has_tensor(x) for x in v)
    return False


def dumps(v, indent=0):
    """JSON text: a tensor, or a value holding none, on one line; anything holding tensors
    (a case, its inputs, a dict or list of tensors) one entry per line."""
    if not has_tensor(v) or is_tensor(v):
        return json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    pad = " " * (indent + 1)
    if isinstance(v, dict):
        items = [json.dumps(k) + ": " + dumps(x, indent + 1) for k, x in v.items()]
        return "{\n" + ",\n".join(pad + i for i in items) + "\n" + " " * indent + "}"
    items = [dumps(x, indent + 1) for x in v]
    return "[\n" + ",\n".join(pad + i for i in items) + "\n" + " " * indent + "]"


def write(path, doc):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(dumps(doc) + "\n")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    with open(src, encoding="utf-8") as f:
        golden = json.load(f)
    by_name = {c["name"]: c for c in golden["cases"]}
    missing = [n for n in CASES if n not in by_name]
    if missing:
        sys.exit(f"{src}: no case {missing}")
    meta = dict(golden["meta"])
    meta["extracted_from"] = SRC
    meta["extracted_by"] = "tests/it/golden/extract.py"
    write(OUT, {"meta": meta, "cases": [by_name[n] for n in CASES]})
    print(f"{OUT}: {len(CASES)} cases from {src}")


if __name__ == "__main__":
    main()
