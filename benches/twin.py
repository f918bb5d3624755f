"""PyTorch's reference loop (../shared/reference/dip_torch.py) from given initial weights: is a
seed's result a property of its initial weights? `--init DIR` holds one `<name>.npy` per
parameter (PyTorch names and shapes, e.g. written from `Dip::parameters()`); the latent noise is
PyTorch's own, from `--noise-seed`. Prints the cloud PSNR every 250 steps.

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
for step in range(1, a.steps + 1):
    x = latent + 0.1 * torch.randn(latent.shape)
    loss = D.masked_mse(net(x), target, tmask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 250 == 0 or step == a.steps:
        rec = D.reconstruct(net, latent)[0].permute(1, 2, 0).numpy()
        m = D.metrics(rec[..., :3], gt01, cloud)
        print(json.dumps({"init": a.init, "noise_seed": a.noise_seed, "step": step,
                          "psnr_cloud": round(m["psnr_cloud"], 3)}), flush=True)
