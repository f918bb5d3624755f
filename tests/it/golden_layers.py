#!/usr/bin/env python3
"""Generates tests/it/golden_layers.rs from ../shared/golden/golden_ops.json (PyTorch 2.15).

Run from the crate root: python3 tests/it/golden_layers.py [path/to/golden_ops.json]
"""
import json
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "../shared/golden/golden_ops.json"
BN = ["batchnorm2d_train_c4_7x7", "batchnorm2d_train_c3_6x6"]
UP = [("upsample_nearest_x2_5x5", "Nearest"), ("upsample_nearest_x2_8x8", "Nearest"),
      ("upsample_bilinear_x2_5x5", "Bilinear"), ("upsample_bilinear_x2_6x6", "Bilinear")]

cases = {c["name"]: c for c in json.load(open(SRC))["cases"]}


def arr(t):
    return "&[" + ", ".join(repr(float(v)) for v in t["data"]) + "]"


def shape(t):
    n, c, h, w = t["shape"]
    assert n == 1
    return f"Shape::new({c}, {h}, {w})"


out = ['''//! Literal PyTorch values for batch-norm and upsampling, copied from
//! ../shared/golden/golden_ops.json (torch 2.15, float64 from f32-representable inputs, 9
//! significant digits) by tests/it/golden_layers.py — do not edit by hand.
//!
//! Batch-norm cases: `bn = torch.nn.BatchNorm2d(C, eps=1e-5, momentum=0.1).train();
//! bn.weight, bn.bias = gamma, beta; y = bn(x); y.backward(gy)` → y, x.grad, weight.grad, bias.grad
//! and the batch mean and biased batch variance.
//! Upsample cases: `y = F.interpolate(x, scale_factor=2, mode='nearest')` or
//! `F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False); y.backward(gy)`.
#![allow(clippy::excessive_precision, clippy::approx_constant)]
use cloudfill::gpu::Shape;
use cloudfill::ops::resample::Upsample;

/// A `batchnorm2d_train_*` case.
pub struct BnCase {
    pub name: &'static str,
    pub shape: Shape,
    pub x: &'static [f64],
    pub gamma: &'static [f64],
    pub beta: &'static [f64],
    pub gy: &'static [f64],
    pub y: &'static [f64],
    pub dx: &'static [f64],
    pub dgamma: &'static [f64],
    pub dbeta: &'static [f64],
    pub mean: &'static [f64],
    pub var_biased: &'static [f64],
}

/// An `upsample_*_x2_*` case; `shape` is the input's.
pub struct UpCase {
    pub name: &'static str,
    pub mode: Upsample,
    pub shape: Shape,
    pub x: &'static [f64],
    pub gy: &'static [f64],
    pub y: &'static [f64],
    pub dx: &'static [f64],
}
''']

out.append("#[rustfmt::skip]\npub const BN_CASES: &[BnCase] = &[")
for name in BN:
    c = cases[name]
    i, o = c["inputs"], c["outputs"]
    assert c["params"]["eps"] == 1e-5
    out.append(f"    // {name}: {c['params']}")
    out.append(f'    BnCase {{ name: "{name}", shape: {shape(i["x"])},')
    for k, v in [("x", i["x"]), ("gamma", i["gamma"]), ("beta", i["beta"]), ("gy", i["gy"]),
                 ("y", o["y"]), ("dx", o["dx"]), ("dgamma", o["dgamma"]), ("dbeta", o["dbeta"]),
                 ("mean", o["batch_mean"]), ("var_biased", o["batch_var_biased"])]:
        out.append(f"        {k}: {arr(v)},")
    out.append("    },")
out.append("];\n")

out.append("#[rustfmt::skip]\npub const UP_CASES: &[UpCase] = &[")
for name, mode in UP:
    c = cases[name]
    i, o = c["inputs"], c["outputs"]
    assert c["params"].get("align_corners", False) is False
    out.append(f"    // {name}: {c['op']} {c['params']}")
    out.append(f'    UpCase {{ name: "{name}", mode: Upsample::{mode}, shape: {shape(i["x"])},')
    for k, v in [("x", i["x"]), ("gy", i["gy"]), ("y", o["y"]), ("dx", o["dx"])]:
        out.append(f"        {k}: {arr(v)},")
    out.append("    },")
out.append("];")

open("tests/it/golden_layers.rs", "w").write("\n".join(out) + "\n")
