"""Scores stopping rules and ensembles offline on the checks `examples/stopping_curves.rs` wrote
(BENCHMARKS.md §11). Usage: python benches/stopping_rules.py DIR [DIR ...] (numpy only).

For each run directory: every member's cloud PSNR at every check (the oracle), the ensemble
mean's, and for each rule (smoothing a, patience P, min_steps M) the kept steps, the step the
batch stops at (all members stopped), and the PSNR of the mean of the kept outputs; and the
Spearman correlation of the members' spread with the mean's error in the cloud."""
import json, math, sys
import numpy as np


def load(d):
    checks = [json.loads(l) for l in open(f"{d}/curves.jsonl")]
    h, w, c = checks[0]["h"], checks[0]["w"], checks[0]["c"]
    truth = np.fromfile(f"{d}/truth.f32", "<f4").reshape(h, w, c)
    cloud = np.fromfile(f"{d}/mask.u8", np.uint8).reshape(h, w).astype(bool)
    k = len(checks[0]["val"])
    outs = {ch["step"]: np.fromfile(f"{d}/check_{ch['step']}.f32", "<f4").reshape(k, h, w, c)
            for ch in checks}
    return checks, truth, cloud, outs


def psnr(pred, truth, cloud):
    d2 = (np.clip(pred[..., :3], 0, 1).astype(np.float64) - np.clip(truth[..., :3], 0, 1)) ** 2
    return 10 * math.log10(1.0 / d2[cloud].mean())


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def rule(vals, steps, a, patience, min_steps):
    """(kept step, stop step) of one member under the Monitor's rule."""
    s_prev, best, at, stop = None, math.inf, None, None
    for st, v in zip(steps, vals):
        s = v if s_prev is None else a * s_prev + (1 - a) * v
        s_prev = s
        if s < best and st >= min_steps:
            best, at = s, st
        if at is not None and st - at >= patience:
            stop = st
            break
    return at, stop or steps[-1]


def main():
    for d in sys.argv[1:]:
        checks, truth, cloud, outs = load(d)
        steps = [c["step"] for c in checks]
        k = len(checks[0]["val"])
        vals = np.array([c["val"] for c in checks])  # checks × members
        mem = np.array([[psnr(outs[s][m], truth, cloud) for m in range(k)] for s in steps])
        ens = {kk: [psnr(outs[s][:kk].mean(0), truth, cloud) for s in steps] for kk in range(1, k + 1)}
        print(f"== {d}: {k} members, checks every {steps[1]-steps[0]} to {steps[-1]}, "
              f"{100*cloud.mean():.1f} % cloud")
        for s in [x for x in (100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000) if x in steps]:
            i = steps.index(s)
            print(f"  step {s:5d}: members " + " / ".join(f"{v:.2f}" for v in mem[i]) +
                  f"  (mean {mem[i].mean():.2f});  ensemble of 1..{k}: " +
                  " / ".join(f"{ens[kk][i]:.2f}" for kk in ens))
        best_i = mem.argmax(0)
        print("  best step in hindsight per member:", [steps[i] for i in best_i],
              " PSNR", [round(float(mem[i, m]), 2) for m, i in enumerate(best_i)])
        for s in [x for x in (300, 500, 1000) if x in steps]:
            o = outs[s]
            err = np.abs(np.clip(o.mean(0)[..., :3], 0, 1) - np.clip(truth[..., :3], 0, 1))[cloud].mean(-1)
            sig = o.std(0)[..., :3][cloud].mean(-1)
            print(f"  Spearman(σ, |error|) at step {s}: {spearman(sig, err):.3f}")
        print("  rule (a, patience, min): kept steps | stop | member PSNR at kept (mean) | ensemble of kept (1..K)")
        for a in (0.0, 0.5, 0.8):
            for pat in (100, 200, 300, 500):
                for mn in (200, 500):
                    r = [rule(vals[:, m], steps, a, pat, mn) for m in range(k)]
                    kept = [steps.index(x[0]) for x in r]
                    stop = max(x[1] for x in r)
                    mp = np.mean([mem[i, m] for m, i in enumerate(kept)])
                    ek = [psnr(np.mean([outs[steps[kept[m]]][m] for m in range(kk)], 0), truth, cloud)
                          for kk in range(1, k + 1)]
                    print(f"  ({a}, {pat}, {mn}): {[x[0] for x in r]} | {stop} | {mp:.2f} | " +
                          " / ".join(f"{v:.2f}" for v in ek))


if __name__ == "__main__":
    main()


def ensemble_rules(d):
    """Rules on the ensemble mean's held-out error: stop at patience P after its smoothed best;
    keep the mean at the best check, or the mean at the stop, or an EMA of the mean."""
    checks, truth, cloud, outs = load(d)
    held = np.fromfile(f"{d}/held.u8", np.uint8).reshape(cloud.shape).astype(bool)
    steps = [c["step"] for c in checks]
    means = {s: outs[s].mean(0) for s in steps}
    val = [float(((means[s][..., :3] - truth[..., :3]) ** 2)[held].mean()) for s in steps]
    ps = [psnr(means[s], truth, cloud) for s in steps]
    print(f"== {d}: ensemble-mean rules (held-out {held.sum()} px)")
    print("  val×1e3:", " ".join(f"{s}:{v*1e3:.2f}" for s, v in list(zip(steps, val))[::4]))
    print("  psnr   :", " ".join(f"{s}:{p:.2f}" for s, p in list(zip(steps, ps))[::4]))
    for a in (0.0, 0.5, 0.8):
        for pat in (100, 200, 300, 500):
            kept, stop = rule(val, steps, a, pat, 200)
            ema, e = None, None
            for s in steps[: steps.index(stop) + 1]:
                e = means[s] if e is None else 0.7 * e + 0.3 * means[s]
            print(f"  ({a}, {pat}): kept {kept} ({ps[steps.index(kept)]:.2f}) stop {stop} "
                  f"(mean at stop {ps[steps.index(stop)]:.2f}, EMA 0.7/check {psnr(e, truth, cloud):.2f})")


if __name__ == "__main__" and len(sys.argv) > 1:
    for d in sys.argv[1:]:
        ensemble_rules(d)
