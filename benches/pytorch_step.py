#!/usr/bin/env python3
"""Seconds per fit step of the reference Deep Image Prior loop in plain PyTorch (CPU), for a
side-by-side ratio with `cargo bench --bench step` on the same machine at the same moment.

Reproduces the fit step of shared/reference/dip_torch.py (DIPSkipNet, no skip branches):
2-channel meshgrid latent -> 8 outputs (the bench's S2 RGB + mean RGB + S1 VV/VH layout),
widths [16,32,64,128,128,128] truncated to `levels`, 3x3 stride-2 + 3x3 encoder convs,
nearest x2 + BN + 5x5 + 1x1 decoder convs, BatchNorm2d in training mode, LeakyReLU(0.2),
final 1x1 conv + sigmoid. One step = latent + 0.1*randn, forward, masked MSE against a random
target in [0,1] with ~20 % of the pixels masked out, zero_grad, backward, Adam(lr=2e-2).
64x64 uses 5 levels by default (6 would batch-norm a single pixel, which cloudfill refuses).

Not a project dependency; install it beside the project:  pip install torch numpy
Run:  python3 benches/pytorch_step.py --sizes 64,128,256 --threads 2 [--steps 20] [--json out.json]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [16, 32, 64, 128, 128, 128]


class DIPSkipNet(nn.Module):
    """The reference DIPSkipNet (same parameter creation order), with `levels` scales."""

    def __init__(self, levels, in_ch=2, out_ch=8, slope=0.2):
        super().__init__()
        w = WIDTHS[:levels]
        self.n, self.slope = levels, slope
        self.down1, self.bn_d1, self.down2, self.bn_d2 = (nn.ModuleList() for _ in range(4))
        self.bn_mid, self.up5, self.bn_u5, self.up1, self.bn_u1 = (nn.ModuleList() for _ in range(5))
        cin = in_ch
        for i in range(levels):
            k = w[i + 1] if i < levels - 1 else w[i]  # channels arriving from below
            self.bn_mid.append(nn.BatchNorm2d(k))
            self.down1.append(nn.Conv2d(cin, w[i], 3, 2, 1))
            self.bn_d1.append(nn.BatchNorm2d(w[i]))
            self.down2.append(nn.Conv2d(w[i], w[i], 3, 1, 1))
            self.bn_d2.append(nn.BatchNorm2d(w[i]))
            self.up5.append(nn.Conv2d(k, w[i], 5, 1, 2))
            self.bn_u5.append(nn.BatchNorm2d(w[i]))
            self.up1.append(nn.Conv2d(w[i], w[i], 1, 1, 0))
            self.bn_u1.append(nn.BatchNorm2d(w[i]))
            cin = w[i]
        self.final = nn.Conv2d(w[0], out_ch, 1, 1, 0)

    def _level(self, i, x):
        act = lambda t: F.leaky_relu(t, self.slope)  # noqa: E731
        h = act(self.bn_d1[i](self.down1[i](x)))
        h = act(self.bn_d2[i](self.down2[i](h)))
        if i < self.n - 1:
            h = self._level(i + 1, h)
        h = self.bn_mid[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        h = act(self.bn_u5[i](self.up5[i](h)))
        return act(self.bn_u1[i](self.up1[i](h)))

    def forward(self, x):
        return torch.sigmoid(self.final(self._level(0, x)))


def meshgrid_latent(n):
    xs = torch.arange(n, dtype=torch.float32) / n
    X, Y = torch.meshgrid(xs, xs, indexing="ij")
    return torch.stack([X, Y])[None]  # (1, 2, n, n)


def bench_size(n, levels, steps, warmup, out_ch=8):
    if n % (1 << levels) or n >> levels < 2:
        raise SystemExit(f"{n}x{n} cannot hold {levels} levels (deepest batch-norm needs >= 2x2)")
    net = DIPSkipNet(levels, out_ch=out_ch).train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    latent = meshgrid_latent(n)
    target = torch.rand(1, out_ch, n, n)
    mask = (torch.rand(1, 1, n, n) >= 0.2).expand(1, out_ch, n, n)  # True = valid pixel

    def step():
        x = latent + 0.1 * torch.randn(latent.shape)
        loss = F.mse_loss(net(x), target, reduction="none")[mask].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in net.parameters())
    return dict(size=n, levels=levels, params=params, steps=steps, loss=loss,
                median_s=statistics.median(times), mean_s=statistics.fmean(times),
                min_s=min(times), max_s=max(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,128,256,512")
    ap.add_argument("--levels", type=int, default=6, help="levels for sizes >= 128")
    ap.add_argument("--levels-64", type=int, default=5, help="levels for sizes < 128")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per size")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t = torch.get_num_threads()
    print(f"torch {torch.__version__}, threads {t}, {a.steps} timed steps after {a.warmup} warm-up",
          flush=True)
    results = []
    for n in (int(s) for s in a.sizes.split(",") if s.strip()):
        r = bench_size(n, a.levels if n >= 128 else a.levels_64, a.steps, a.warmup)
        results.append(r)
        print(f"torch step {n}x{n}: {r['median_s']:.4f} s/step ({r['levels']} levels, "
              f"{r['params']} params, threads {t}; median, mean {r['mean_s']:.4f} s, "
              f"min {r['min_s']:.4f} s, loss {r['loss']:.5f})", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(torch=torch.__version__, threads=t, results=results), f, indent=1)


if __name__ == "__main__":
    main()
