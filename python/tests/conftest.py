"""Shared fixtures: small random scenes, the repository's paths, the CLI binary."""
import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def scene():
    """A 64×64 RGB target with a square cloud and a 2-channel guide, random (never zeros)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    base = np.stack([0.5 + 0.3 * np.sin(6 * x), 0.4 + 0.3 * np.cos(5 * y), 0.3 + 0.2 * x * y], -1)
    target = (base + 0.05 * rng.standard_normal((64, 64, 3))).astype(np.float32)
    guide = np.stack([base[..., 0], base[..., 1]], -1) + 0.02 * rng.standard_normal((64, 64, 2))
    clear = np.ones((64, 64), bool)
    clear[20:38, 24:44] = False
    return target, guide.astype(np.float32), clear


@pytest.fixture
def cli():
    """The `cloudfill` binary the README's test command builds (cargo test --release)."""
    path = pathlib.Path(os.environ.get("CLOUDFILL_BIN", REPO / "target" / "release" / "cloudfill"))
    if not path.is_file():
        pytest.fail(f"{path} not found: build it with `cargo build --release` (or set CLOUDFILL_BIN)")
    return path
