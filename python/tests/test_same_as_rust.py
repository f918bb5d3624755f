"""The package computes what the Rust library computes: bit for bit against the CLI (a thin
layer over the library) on the same inputs, seed and settings."""
import subprocess

import numpy as np

import cloudfill


def _cli_fill(cli, tmp_path, target, guide, clear, *flags):
    np.save(tmp_path / "t.npy", target)
    np.save(tmp_path / "g.npy", guide)
    np.save(tmp_path / "m.npy", clear)
    out = tmp_path / "out.npy"
    sigma = tmp_path / "sigma.npy"
    cmd = [str(cli), "inpaint", "--target", str(tmp_path / "t.npy"), "--mask",
           str(tmp_path / "m.npy"), "--guide", str(tmp_path / "g.npy"), "--out", str(out),
           "--quiet", *flags]
    if "--reference" not in flags:
        cmd += ["--uncertainty", str(sigma)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return np.load(out), (np.load(sigma) if sigma.exists() else None)


def test_the_reference_flow_equals_the_cli_bit_for_bit(cli, tmp_path, scene):
    target, guide, clear = scene
    want, _ = _cli_fill(cli, tmp_path, target, guide, clear, "--reference", "--steps", "25",
                        "--seed", "5")
    dip = cloudfill.LitDIP(seed=5)
    dip.set_target([target, guide])
    dip.set_mask([clear, np.ones_like(clear)])
    dip.fit(steps=25)
    got = dip.output()[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    one_call = cloudfill.inpaint(target, clear, guides=[guide], steps=25, seed=5, reference=True)
    np.testing.assert_array_equal(one_call, want)


def test_an_ensemble_with_the_stopping_rule_equals_the_cli(cli, tmp_path, scene):
    target, guide, clear = scene
    flags = ["--ensemble", "2", "--stop", "auto", "--check-every", "5", "--patience", "10",
             "--min-steps", "10", "--steps", "30", "--seed", "2"]
    want, want_sigma = _cli_fill(cli, tmp_path, target, guide, clear, *flags)
    got, sigma = cloudfill.inpaint(target, clear, guides=[guide], steps=30, seed=2, ensemble=2,
                                   stop={"every": 5, "patience": 10, "min_steps": 10},
                                   uncertainty=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(sigma, want_sigma)
