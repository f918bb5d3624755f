"""One network's stopping signals, scored offline on the checks `examples/stopping_curves.rs` wrote
(BENCHMARKS.md §11). Usage: python benches/drift_signal.py DIR [DIR ...] (numpy only).

Each member of a run is treated as a fit of its own (`--ensemble 1`). At every check it is scored by
- its drift: the mean, over the cloud's elements (first three bands), of the standard deviation of
  its renders over the last W checks (a windowed moving variance of the output, the "ES-WMV"
  early-stopping rule for Deep Image Prior, Wang et al.), for W = 2, 4, 8; no truth and no
  held-out pixels needed;
- its held-out error (on `held.u8`, when the run held pixels out).
For each signal and rule (smoothing 0.5, patience P, no kept check before step M) the kept step
and the cloud PSNR there, beside the best check in hindsight and the last check; and what the
mean of a member's renders over the last W checks (a running average of the output, a free
"ensemble in time") scores at a few steps, against its render there."""
import math
import sys

import numpy as np

from stopping_rules import load, psnr, rule

WINDOWS = (2, 4, 8)
RULES = [(0.5, 150, 200, 0.0), (0.5, 150, 300, 0.0), (0.5, 300, 300, 0.0)]


def drift(renders, cloud, w):
    """Per check: the std over the last w renders (fewer at the start), mean over the cloud."""
    out = []
    for i in range(len(renders)):
        win = np.stack(renders[max(0, i - w + 1) : i + 1])[..., :3]
        out.append(float(win.std(0)[cloud].mean()) if len(win) > 1 else math.nan)
    out[0] = out[1]  # the first check has no window: give it the second's value
    return out


def main(d):
    steps, truth, cloud, held, outs, k = load(d)
    print(f"== {d}: {k} members as single fits, checks every {steps[1] - steps[0]} to {steps[-1]}")
    rows = {}
    for m in range(k):
        renders = [outs[s][m] for s in steps]
        ps = [psnr(r, truth, cloud) for r in renders]
        best = int(np.argmax(ps))
        signals = {f"drift W={w}": drift(renders, cloud, w) for w in WINDOWS}
        if held.any():
            signals["held-out"] = [float(((r[..., :3] - truth[..., :3]) ** 2)[held].mean()) for r in renders]
        line = f"  member {m}: best {ps[best]:.2f} @{steps[best]}, last {ps[-1]:.2f} @{steps[-1]}"
        for name, vals in signals.items():
            for r in RULES:
                kept, stop = rule(vals, steps, *r)
                got = math.nan if kept is None else ps[steps.index(kept)]
                rows.setdefault((name, r[1], r[2]), []).append((got, kept, stop))
        print(line)
    bests = []
    for m in range(k):
        ps = [psnr(outs[s][m], truth, cloud) for s in steps]
        bests.append(max(ps))
    print(f"  mean of the members' best in hindsight: {np.mean(bests):.2f}")
    for st in [x for x in (300, 400, 500, 750, 1000, 1500) if x in steps]:
        i = steps.index(st)
        one = [psnr(outs[st][m], truth, cloud) for m in range(k)]
        cells = [f"render {np.mean(one):.2f}"]
        for w in (2, 4, 8, 16):
            if i + 1 >= w:
                avg = [psnr(np.mean([outs[s][m] for s in steps[i - w + 1 : i + 1]], 0), truth, cloud)
                       for m in range(k)]
                cells.append(f"mean of last {w}: {np.mean(avg):.2f}")
        print(f"  step {st}, members' mean PSNR: " + "; ".join(cells))
    for (name, pat, mins), cells in rows.items():
        got = [c[0] for c in cells]
        print(f"  {name:10s} patience {pat} min {mins}: mean {np.nanmean(got):.2f} dB; "
              + " | ".join(f"{g:.2f} @{kept} (stop {stop})" for g, kept, stop in cells))


if __name__ == "__main__":
    for d in sys.argv[1:]:
        main(d)
