"""How well an ensemble's uncertainty ranks its error inside the cloud, as written and smoothed.

Reads what `cloudfill inpaint --out OUT.npy --uncertainty SIGMA.npy` wrote (H×W×C) with the truth
and the mask it ran on, and prints the Spearman correlation of σ against the absolute error inside
the cloud (both averaged over the first three bands, as `metrics::uncertainty_spearman`), for σ as
written and for σ averaged over a (2r+1)² box of cloudy pixels (clear pixels do not take part).

Usage: python benches/uncertainty_smoothing.py TRUTH.npy MASK.npy [--window X,Y,W,H] OUT.npy SIGMA.npy [OUT SIGMA ...]
   or: python benches/uncertainty_smoothing.py --curves DIR [DIR ...] [--steps 300,450,600]
(the second form takes the members' renders at those checks from `examples/stopping_curves.rs`).
Needs numpy.
"""
import argparse

import numpy as np


def rank(v):
    return np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(np.float64)


def spearman(a, b):
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def box_mean(img, weight, r):
    """Mean of img over the (2r+1)² box, counting only pixels where weight is 1."""
    if r == 0:
        return img
    pad = lambda a: np.pad(a, r)
    s, w = pad(img * weight), pad(weight)
    cs = lambda a: np.cumsum(np.cumsum(a, 0), 1)
    s, w = np.pad(cs(s), ((1, 0), (1, 0))), np.pad(cs(w), ((1, 0), (1, 0)))
    k = 2 * r + 1
    box = lambda c: c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return box(s) / np.maximum(box(w), 1)


def row(name, pred, sigma, truth, cloud, radii):
    err = np.abs(np.clip(pred, 0, 1) - np.clip(truth, 0, 1))[..., :3].mean(-1)
    s = sigma[..., :3].mean(-1)
    rhos = [spearman(box_mean(s, cloud.astype(np.float64), r)[cloud], err[cloud]) for r in radii]
    print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rhos) + " |")


def curves(a, radii):
    import sys, os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from stopping_rules import load

    for d in a.pairs:
        steps, truth, cloud, _, outs, _ = load(d)
        for st in (int(v) for v in a.steps.split(",")):
            if st in outs:
                o = outs[st].astype(np.float64)
                row(f"{d} step {st}", o.mean(0), o.std(0), truth.astype(np.float64), cloud, radii)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("pairs", nargs="+")
    p.add_argument("--window", default=None)
    p.add_argument("--radii", default="0,1,2,3,5,8")
    p.add_argument("--curves", action="store_true")
    p.add_argument("--steps", default="300,450,600")
    a = p.parse_args()
    radii = [int(r) for r in a.radii.split(",")]
    print("| run | " + " | ".join(f"r={r}" for r in radii) + " |")
    print("|---|" + "---:|" * len(radii))
    if a.curves:
        return curves(a, radii)
    truth_path, mask_path, a.pairs = a.pairs[0], a.pairs[1], a.pairs[2:]
    truth, clear = np.load(truth_path).astype(np.float64), np.load(mask_path).astype(bool)
    if a.window:
        x, y, w, h = (int(v) for v in a.window.split(","))
        truth, clear = truth[y : y + h, x : x + w], clear[y : y + h, x : x + w]
    cloud = ~clear
    for out, sig in zip(a.pairs[0::2], a.pairs[1::2]):
        pred, sigma = np.load(out).astype(np.float64), np.load(sig).astype(np.float64)
        row(out, pred, sigma, truth, cloud, radii)


if __name__ == "__main__":
    main()
