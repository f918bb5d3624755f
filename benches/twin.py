"""PyTorch's reference loop (../shared/reference/dip_torch.py) from given initial weights: is a
seed's result a property of its initial weights? `--init DIR` holds one `<name>.npy` per
parameter (PyTorch names and shapes, e.g. written from `Dip::parameters()`); the latent noise is
PyTorch's own, from `--noise-seed`, or with `--cloudfill-noise SEED` exactly cloudfill's
(shaders/noise.wgsl: Philox-2x32-10 keyed by the seed, counter (i/2, step), Box–Muller), so that
a cloudfill run's twin sees the same initial weights and the same noise. Prints the cloud PSNR
every 250 steps.

    python benches/twin.py --init /tmp/init_seed1 --noise-seed 0 --steps 1000
"""
import argparse, json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "reference"))
import dip_torch as D

ap = argparse.ArgumentParser()
ap.add_argument("--init", required=True)
ap.add_argument("--noise-seed", type=int, default=0)
ap.add_argument("--cloudfill-noise", type=int, default=None, help="use cloudfill's noise of this seed")
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.noise_seed)
ns = argparse.Namespace(data_dir=D.DEFAULT_DATA, size=128, scale_mode="crop", s1_max_val=2.0,
                        cloud_fill=1.0, sources="target+s1")
gt, mask, target, tmask = D.build_problem(ns)
cloud = ~mask
gt01 = np.clip(gt, 0.0, 1.0)
latent = D.meshgrid_latent(128, 128)
net = D.DIPSkipNet(in_ch=2, out_ch=target.shape[1])
net.train()
sd = {n: torch.from_numpy(np.load(os.path.join(a.init, f"{n}.npy"))) for n, _ in net.named_parameters()}
net.load_state_dict({**net.state_dict(), **sd}, strict=False)
opt = torch.optim.Adam(net.parameters(), lr=2e-2)


def philox2x32(c0, c1, key):
    """Philox-2x32-10 on uint32 arrays (as shaders/noise.wgsl)."""
    x0, x1, k = c0.astype(np.uint64), np.full_like(c0, c1, dtype=np.uint64), np.uint64(key)
    for _ in range(10):
        prod = np.uint64(0xD256D193) * x0
        hi, lo = prod >> np.uint64(32), prod & np.uint64(0xFFFFFFFF)
        x0, x1 = hi ^ k ^ x1, lo
        k = (k + np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)
    return x0.astype(np.uint32), x1.astype(np.uint32)


def cloudfill_noise(seed, step, n):
    """cloudfill's z(seed, step, i) for i < n (channel-major latent), float32."""
    j = np.arange(n // 2, dtype=np.uint32)
    x0, x1 = philox2x32(j, step, (seed ^ (seed >> 32)) & 0xFFFFFFFF)
    u0 = ((x0 >> 8).astype(np.float32) + 1) * np.float32(1 / 16777216)
    u1 = ((x1 >> 8).astype(np.float32) + 1) * np.float32(1 / 16777216)
    r = np.sqrt(np.float32(-2) * np.log(u0))
    th = np.float32(3.14159265358979) * (np.float32(2) * u1 - 1)
    return np.stack([r * np.cos(th), r * np.sin(th)], 1).reshape(-1).astype(np.float32)


for step in range(1, a.steps + 1):
    if a.cloudfill_noise is None:
        z = torch.randn(latent.shape)
    else:
        z = torch.from_numpy(cloudfill_noise(a.cloudfill_noise, step, latent.numel())).reshape(latent.shape)
    x = latent + 0.1 * z
    loss = D.masked_mse(net(x), target, tmask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 250 == 0 or step == a.steps:
        rec = D.reconstruct(net, latent)[0].permute(1, 2, 0).numpy()
        m = D.metrics(rec[..., :3], gt01, cloud)
        print(json.dumps({"init": a.init, "noise_seed": a.noise_seed,
                          "cloudfill_noise": a.cloudfill_noise, "step": step,
                          "psnr_cloud": round(m["psnr_cloud"], 3)}), flush=True)
