"""How far PyTorch's own rounding moves the golden trajectory, beside cloudfill's runs of it.

The golden run (../shared/golden/trajectory_128, PyTorch f32) is re-run from the same initial
weights in float64, and in float32 with every initial weight moved by one ulp; each is compared
with the golden loss curve and outputs the way tests/it/golden/trajectory.rs compares cloudfill. With
--cloudfill DIR (what `CLOUDFILL_TRAJECTORY_DUMP=DIR cargo test --release trajectory` writes: one
folder per conv path with loss.f32, out{1,10,100,300}.f32 and the step-1 gradients
grad1_<name>.f32), cloudfill's paths join the table, and a second table compares the step-1
gradients of PyTorch f32 and of each cloudfill path with PyTorch's float64 gradient.

    pip install torch numpy scikit-image tifffile   # beside the project, never a dependency
    python benches/trajectory_envelope.py [--cloudfill DIR] [--threads 2]

Needs ../shared/reference/dip_torch.py and ../shared/golden/trajectory_128.
"""
import argparse, glob, json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
GOLD = os.path.join(SHARED, "golden", "trajectory_128")
SNAPS = (1, 10, 100, 300)


def torch_run(D, man, T, M, lat, dtype, perturb):
    """The golden run again (300 steps, Adam lr 2e-2, no noise): losses and snapshot outputs."""
    net = D.DIPSkipNet(in_ch=2, out_ch=5)
    net.train()
    sd = {}
    for p in man["params"]:
        a = np.load(os.path.join(GOLD, p["file"]))
        if perturb:  # one ulp up or down, a fixed random sign per element
            sign = np.sign(np.random.RandomState(p["index"]).randn(*a.shape)).astype(np.float32)
            a = np.nextafter(a, np.float32(np.inf) * sign).astype(np.float32)
        sd[p["name"]] = torch.from_numpy(a)
    net.load_state_dict({**net.state_dict(), **sd}, strict=False)
    net = net.to(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    losses, outs = [], {}
    for step in range(1, 301):
        loss = D.masked_mse(net(lat.to(dtype)), T.to(dtype), M)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step in SNAPS:
            outs[step] = D.reconstruct(net, lat.to(dtype))[0].permute(1, 2, 0).double().numpy()
    return np.array(losses), outs


def step1_grads(D, man, T, M, lat, dtype):
    """The step-1 gradient of every parameter, from the golden initial weights."""
    net = D.DIPSkipNet(in_ch=2, out_ch=5)
    net.train()
    sd = {p["name"]: torch.from_numpy(np.load(os.path.join(GOLD, p["file"]))) for p in man["params"]}
    net.load_state_dict({**net.state_dict(), **sd}, strict=False)
    net = net.to(dtype)
    D.masked_mse(net(lat.to(dtype)), T.to(dtype), M).backward()
    return {n: p.grad.double().numpy().ravel() for n, p in net.named_parameters()}


def gradient_table(D, man, T, M, lat, dirs):
    """Max relative error (max |g - g64| / max |g64|) per tensor, summarised over the tensors.
    Conv biases that feed batch-norm have a true gradient of 0 and are left out."""
    g64 = step1_grads(D, man, T, M, lat, torch.float64)
    runs = {"PyTorch f32": step1_grads(D, man, T, M, lat, torch.float32)}
    for d in dirs:
        runs[f"cloudfill {os.path.basename(d)}"] = {
            n: np.fromfile(os.path.join(d, f"grad1_{n}.f32"), np.float32).astype(np.float64)
            for n in g64}
    names = [n for n in g64 if not (n.endswith(".bias") and n.split(".")[0] in ("down1", "down2", "up5", "up1"))]
    print("\n| step-1 gradient vs PyTorch f64 | median over tensors | worst tensor |")
    print("|---|---|---|")
    for k, g in runs.items():
        e = [np.abs(g[n] - g64[n]).max() / np.abs(g64[n]).max() for n in names]
        print(f"| {k} | {np.median(e):.1e} | {max(e):.1e} |")


def row(name, loss, outs, gl, gout):
    rel = np.abs(loss - gl) / gl
    late = abs(loss[200:].mean() - gl[200:].mean()) / gl[200:].mean()
    diffs = " / ".join(f"{np.abs(outs[s] - gout[s]).mean():.3f}" for s in SNAPS)
    print(f"| {name} | {rel[0]:.1e} | {rel.max():.1e} | {late:.1e} | {diffs} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloudfill", help="folder of cloudfill dumps (CLOUDFILL_TRAJECTORY_DUMP)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(SHARED, "reference"))
    import dip_torch as D

    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    man = json.load(open(os.path.join(GOLD, "manifest.json")))
    chw = lambda f: torch.from_numpy(np.load(os.path.join(GOLD, f))).permute(2, 0, 1)[None].contiguous()
    T, M, lat = chw("target.npy"), chw("mask.npy"), chw("latent.npy")
    gl = np.load(os.path.join(GOLD, "loss.npy")).astype(np.float64)
    gout = {s: np.load(os.path.join(GOLD, f"out_step{s}.npy")).astype(np.float64) for s in SNAPS}
    print("| run (vs the f32 golden) | loss, step 1 | loss, worst step | mean loss 201–300 "
          "| mean abs. output diff after 1 / 10 / 100 / 300 |")
    print("|---|---|---|---|---|")
    for name, dtype, perturb in [("PyTorch f64, same weights", torch.float64, False),
                                 ("PyTorch f32, weights ±1 ulp", torch.float32, True)]:
        row(name, *torch_run(D, man, T, M, lat, dtype, perturb), gl, gout)
        sys.stdout.flush()
    dirs = sorted(glob.glob(os.path.join(a.cloudfill, "*"))) if a.cloudfill else []
    for d in dirs:
        loss = np.fromfile(os.path.join(d, "loss.f32"), np.float32).astype(np.float64)
        outs = {s: np.fromfile(os.path.join(d, f"out{s}.f32"), np.float32).astype(np.float64)
                .reshape(128, 128, 5) for s in SNAPS}
        row(f"cloudfill {os.path.basename(d)}", loss, outs, gl, gout)
    gradient_table(D, man, T, M, lat, [d for d in dirs if glob.glob(os.path.join(d, "grad1_*"))])


if __name__ == "__main__":
    main()
