"""Scores stopping rules and ensemble sizes offline on the checks `examples/stopping_curves.rs`
wrote (BENCHMARKS.md §11). Usage: python benches/stopping_rules.py DIR [DIR ...] (numpy only).

For each run directory (K members fitted with held-out patches and no stop, every member's
output written at every check):
- the cloud PSNR of the mean of the first k members (k = 1..K) at a few steps, the best check in
  hindsight of each, and the Spearman correlation of the K members' spread with the error;
- for each ensemble size k and rule — smoothing a, patience P, no kept check before step M, and
  a minimum relative improvement d (a check improves only if its smoothed held-out error is
  below (1 − d) × the best so far) — judged, as cloudfill does, on the held-out error of the
  k members' mean: the kept step, the step the fit stops at, and the PSNR of the kept mean.
The held-out error is recomputed here from `held.u8` (the pixels the fit never saw)."""
import json, math, os, sys
import numpy as np

DEFAULT = (0.5, 150, 200, 0.0)  # StopRule::default(): smoothing, patience, min_steps, min delta


def load(d):
    checks = [json.loads(l) for l in open(f"{d}/curves.jsonl")]
    h, w, c = checks[0]["h"], checks[0]["w"], checks[0]["c"]
    truth = np.fromfile(f"{d}/truth.f32", "<f4").reshape(h, w, c)
    cloud = np.fromfile(f"{d}/mask.u8", np.uint8).reshape(h, w).astype(bool)
    held = np.fromfile(f"{d}/held.u8", np.uint8).reshape(h, w).astype(bool)
    steps = [ch["step"] for ch in checks]
    k = os.path.getsize(f"{d}/check_{steps[0]}.f32") // (4 * h * w * c)
    outs = {s: np.fromfile(f"{d}/check_{s}.f32", "<f4").reshape(k, h, w, c) for s in steps}
    return steps, truth, cloud, held, outs, k


def psnr(pred, truth, cloud):
    d2 = (np.clip(pred[..., :3], 0, 1).astype(np.float64) - np.clip(truth[..., :3], 0, 1)) ** 2
    return 10 * math.log10(1.0 / d2[cloud].mean())


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def rule(vals, steps, a, patience, min_steps, delta):
    """(kept step, stop step) under the Monitor's rule with a minimum relative improvement."""
    s_prev, best, at = None, math.inf, None
    for st, v in zip(steps, vals):
        s = v if s_prev is None else a * s_prev + (1 - a) * v
        s_prev = s
        if st >= min_steps and s < best * (1 - delta):
            best, at = s, st
        if at is not None and st - at >= patience:
            return at, st
    return at, steps[-1]


def main(d):
    steps, truth, cloud, held, outs, k = load(d)
    means = {kk: {s: outs[s][:kk].mean(0) for s in steps} for kk in range(1, k + 1)}
    ps = {kk: [psnr(means[kk][s], truth, cloud) for s in steps] for kk in means}
    val = {kk: [float(((means[kk][s][..., :3] - truth[..., :3]) ** 2)[held].mean()) for s in steps]
           for kk in means}
    print(f"== {d}: {k} members, checks every {steps[1] - steps[0]} to {steps[-1]}, "
          f"{100 * cloud.mean():.1f} % cloud, {held.sum()} px held out")
    for s in [x for x in (100, 200, 300, 400, 500, 600, 750, 1000, 1500) if x in steps]:
        i = steps.index(s)
        mem = [psnr(outs[s][m], truth, cloud) for m in range(k)]
        print(f"  step {s:5d}: members " + " / ".join(f"{v:.2f}" for v in mem) +
              f";  mean of 1..{k}: " + " / ".join(f"{ps[kk][i]:.2f}" for kk in ps))
    for kk in ps:
        i = int(np.argmax(ps[kk]))
        print(f"  mean of {kk}: best in hindsight {ps[kk][i]:.2f} dB at step {steps[i]}")
    for s in [x for x in (300, 500, 1000) if x in steps]:
        o = outs[s]
        err = np.abs(np.clip(o.mean(0)[..., :3], 0, 1) - np.clip(truth[..., :3], 0, 1))[cloud].mean(-1)
        sig = o.std(0)[..., :3][cloud].mean(-1)
        print(f"  Spearman(σ, |error|) of {k} at step {s}: {spearman(sig, err):.3f}")
    print("  rule (smoothing, patience, min_steps, min delta) on the mean of k: kept (PSNR) stop")
    rules = [DEFAULT] + [(0.5, p, 200, dd) for p in (100, 150) for dd in (0.005, 0.01, 0.02, 0.05)
                         if (0.5, p, 200, dd) != DEFAULT]
    for r in rules:
        cells = []
        for kk in ps:
            kept, stop = rule(val[kk], steps, *r)
            got = "-" if kept is None else f"{ps[kk][steps.index(kept)]:.2f}"
            cells.append(f"k={kk}: {kept} ({got}) {stop}")
        tag = " (default)" if r == DEFAULT else ""
        print(f"  {r}{tag}: " + " | ".join(cells))
    # The members' disagreement inside the cloud (no truth needed): the mean over the cloud of
    # the per-pixel standard deviation across the first k members (k ≥ 2).
    spread = {kk: [float(outs[s][:kk].std(0)[..., :3][cloud].mean()) for s in steps]
              for kk in range(2, k + 1)}
    print("  spread in the cloud ×1e3 (k=%d): " % k +
          " ".join(f"{s}:{v * 1e3:.2f}" for s, v in zip(steps, spread[k])))
    print("  rule on the spread (smoothing, patience, min_steps): kept (PSNR) stop")
    for r in [(0.0, 150, 100, 0.0), (0.0, 150, 200, 0.0), (0.0, 150, 300, 0.0), (0.5, 150, 200, 0.0),
              (0.5, 150, 300, 0.0)]:
        cells = []
        for kk in spread:
            kept, stop = rule(spread[kk], steps, *r)
            got = "-" if kept is None else f"{ps[kk][steps.index(kept)]:.2f}"
            cells.append(f"k={kk}: {kept} ({got}) {stop}")
        print(f"  {r[:3]}: " + " | ".join(cells))


if __name__ == "__main__":
    for d in sys.argv[1:]:
        main(d)
