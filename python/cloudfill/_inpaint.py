"""`inpaint`: the one-call form, with the CLI's defaults (an ensemble, stopped on its spread)."""
import numpy as np

from . import _arrays, _native
from ._litdip import STEPS, LitDIP

_DEFAULTS = _native.defaults()


def inpaint(image, mask, guides=(), guide_masks=None, *, steps=STEPS, seed=_DEFAULTS["seed"],
            stop="auto", ensemble=_DEFAULTS["ensemble"], reference=False, uncertainty=False,
            lr=_DEFAULTS["lr"], noise_std=_DEFAULTS["noise_std"], latent_seed="meshgrid",
            sigmoid_output=True, layout=None, progress=False, callback=None):
    """Fills the cloud of ``image`` (H×W, H×W×C or C×H×W) where ``mask`` is False/0.

    ``mask``: H×W, True/1 = clear (the reference's convention; a cloud mask is ``~cloud``).
    ``guides``: collocated arrays of the same H×W (Sentinel-1, a cloud-free composite), fitted
    with the image; ``guide_masks`` (default all clear) marks where each guide is valid.
    The defaults are the CLI's: ``ensemble`` networks (seeds seed, seed+1, …) averaged and
    stopped together when their spread inside the cloud stops falling (``stop='auto'``; one
    network: when its fill stops settling; ``'none'`` runs every one of ``steps``),
    ``steps`` the maximum. ``reference=True`` is the reference's exact flow (one network, every
    step, the last output).

    Returns the filled image as a float32 H×W×C array, or ``(filled, sigma)`` with the members'
    per-pixel standard deviation when ``uncertainty=True``.
    """
    srcs = _arrays.sources([image, *guides], "image/guides", layout)
    hw = srcs[0].shape[:2]
    if guide_masks is None:
        guide_masks = [np.ones(hw, bool)] * len(guides)
    elif not isinstance(guide_masks, (list, tuple)):
        guide_masks = [guide_masks]
    all_masks = _arrays.masks([mask, *guide_masks], len(srcs), hw, "mask/guide_masks")
    if reference:
        ensemble, stop = 1, None
    dip = LitDIP(latent_seed=latent_seed, sigmoid_output=sigmoid_output, lr=lr,
                 regularization_noise_std=noise_std, seed=seed, ensemble=ensemble, stop=stop)
    dip.set_target(srcs, layout="hwc")
    dip.set_mask(all_masks)
    dip.fit(steps, progress=progress, callback=callback)
    out, sigma = dip.output_and_uncertainty()
    return (out[0], sigma[0]) if uncertainty else out[0]
