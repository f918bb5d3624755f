"""`LitDIP`: the reference's class, name for name, on cloudfill's kernels.

The reference notebook ports by changing its import: construct, ``set_target``, ``set_mask``,
``fit`` (in place of a Lightning trainer), ``output``. Its defaults are the reference's: one
network, every step asked for, the last output. cloudfill's own settings (``ensemble``,
``stop``, ``seed``) are keyword arguments beside them.
"""
import numbers

from . import _arrays, _native
from ._progress import Progress

_DEFAULTS = _native.defaults()
STEPS = 4000
"""The reference's length: 4 epochs of 1000 steps."""


def stop_rule(stop, ensemble=1):
    """The library's stopping rule from None (every step, the last output), "auto" (the
    recommended rule for ``ensemble`` networks: the drift of the fill for one, the members' spread
    in the cloud with no pixel held out for more), "none", or a dict overriding some of that
    rule's settings (e.g. ``{"signal": "heldout", "holdout": 0.1}``); a dict that names a
    signal starts from the settings measured for that signal (``_native.defaults()["stop_signals"]``)."""
    if stop is None or stop == "none":
        return None
    rule = dict(_DEFAULTS["stop" if ensemble < 2 else "stop_ensemble"])
    if isinstance(stop, dict) and stop.get("signal") in _DEFAULTS["stop_signals"]:
        rule = dict(_DEFAULTS["stop_signals"][stop["signal"]])
    if stop == "auto":
        pass
    elif isinstance(stop, dict):
        unknown = set(stop) - set(rule)
        if unknown:
            raise ValueError(
                f"stop: unknown setting(s) {sorted(unknown)}; the rule has {sorted(rule)}"
            )
        rule.update(stop)
    else:
        raise ValueError(f"stop: expected 'auto', 'none', None or a dict, got {stop!r}")
    return (
        float(rule["holdout"]),
        int(rule["every"]),
        None if rule["patience"] is None else int(rule["patience"]),
        float(rule["smoothing"]),
        int(rule["min_steps"]),
        str(rule["signal"]),
    )


def _latent(latent_seed):
    if isinstance(latent_seed, str):
        if latent_seed not in ("meshgrid", "target"):
            raise ValueError(
                f"latent_seed: expected 'meshgrid', 'target' or a (scale, depth) tuple, "
                f"got {latent_seed!r}"
            )
        return latent_seed, None
    try:
        scale, depth = latent_seed
    except (TypeError, ValueError):
        raise ValueError(
            f"latent_seed: expected 'meshgrid', 'target' or a (scale, depth) tuple, "
            f"got {latent_seed!r}"
        ) from None
    if not isinstance(depth, numbers.Integral) or depth < 1:
        raise ValueError(f"latent_seed: the depth of (scale, depth) must be an integer ≥ 1, got {depth!r}")
    return "noise", (float(scale), int(depth))


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer ≥ {minimum}, got {value!r}")
    return int(value)


class LitDIP:
    """Deep Image Prior inpainting of the first source, guided by the others.

    Arguments as the reference's: ``target_channels`` (accepted for compatibility; the channels
    come from ``set_target``), ``latent_seed`` ('meshgrid', 'target' or ``(scale, depth)``),
    ``sigmoid_output``, ``lr``, ``regularization_noise_std``, ``epoch_steps`` (what one of
    ``fit(max_epochs=…)``'s epochs is). cloudfill's: ``seed``, ``ensemble`` (networks fitted side
    by side from seeds seed, seed+1, …; the output is their mean), ``stop`` (None: the
    reference's fixed length; 'auto' or a dict: checks of the fill, the best output kept,
    early stopping) and ``loss_every`` (steps between loss readings and callbacks).
    """

    def __init__(self, target=None, mask=None, target_channels=3, latent_seed="meshgrid",
                 sigmoid_output=True, lr=_DEFAULTS["lr"],
                 regularization_noise_std=_DEFAULTS["noise_std"], epoch_steps=1000, *,
                 seed=_DEFAULTS["seed"], ensemble=1, stop=None,
                 loss_every=_DEFAULTS["loss_every"]):
        if isinstance(target_channels, (list, tuple)):
            for c in target_channels:
                _count(c, "target_channels", 1)
        else:
            _count(target_channels, "target_channels", 1)
        self.target_channels = target_channels
        self.epoch_steps = _count(epoch_steps, "epoch_steps", 1)
        kind, noise = _latent(latent_seed)
        self._native = _native.Fit(
            lr=float(lr), noise_std=float(regularization_noise_std), latent_kind=kind,
            noise=noise, sigmoid=bool(sigmoid_output), seed=_count(seed, "seed", 0),
            ensemble=_count(ensemble, "ensemble", 1), stop=stop_rule(stop, ensemble),
            loss_every=_count(loss_every, "loss_every", 1),
        )
        self._hw = None
        self._n_sources = 0
        self.last_loss = None
        if target is not None:
            self.set_target(target)
        if mask is not None:
            self.set_mask(mask)

    def set_target(self, target, layout=None):
        """The sources: one array or a list (H×W, H×W×C or C×H×W); the first is inpainted.
        Masks set before are forgotten (all clear until ``set_mask``)."""
        arrays = _arrays.sources(target, "target", layout)
        self._native.set_target(arrays)
        self._hw = arrays[0].shape[:2]
        self._n_sources = len(arrays)
        self.target_channels = [a.shape[2] for a in arrays]

    def set_mask(self, mask):
        """One H×W mask per source (a single array for a single source): True/1 = clear,
        False/0 = cloud."""
        if self._hw is None:
            raise ValueError("set_mask: call set_target first (the masks must match the sources)")
        self._native.set_mask(_arrays.masks(mask, self._n_sources, self._hw))

    def fit(self, steps=None, max_epochs=None, progress=False, callback=None):
        """Fits for ``steps`` Adam steps, or ``max_epochs`` × ``epoch_steps`` (the reference's
        trainer; default 4 epochs = 4000 steps), continuing any earlier fit; under a stopping
        rule, ``steps`` is the maximum. ``callback(step, loss)`` runs at every loss reading and
        stops the fit by returning False. Ctrl-C stops after the current step and raises
        KeyboardInterrupt; the object stays usable (``fit`` again continues). Returns the last
        loss."""
        if self._hw is None:
            raise ValueError("fit: call set_target first")
        if steps is not None and max_epochs is not None:
            raise ValueError("fit: give steps or max_epochs, not both")
        if max_epochs is not None:
            steps = _count(max_epochs, "max_epochs", 1) * self.epoch_steps
        steps = STEPS if steps is None else _count(steps, "steps", 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        bar = Progress(steps, progress)

        def on_step(step, loss, best, best_step):
            bar.update(step, loss, best, best_step)
            if callback is not None:
                return callback(step, loss) is not False
            return True

        try:
            _, loss, _ = self._native.fit(steps, on_step)
        finally:
            bar.close()
        self.last_loss = loss
        return loss

    def output(self):
        """The reconstruction of every source, in order: a list of float32 H×W×C arrays (an
        ensemble's: the members' mean; under a stopping rule: the kept outputs)."""
        self._need_target("output")
        return self._native.output()

    def uncertainty(self):
        """The members' per-pixel standard deviation of every source's reconstruction (all
        zero for one network), as ``output``."""
        return self.output_and_uncertainty()[1]

    def output_and_uncertainty(self):
        """``(output(), uncertainty())`` from one render."""
        self._need_target("output_and_uncertainty")
        return self._native.output_and_uncertainty()

    def _need_target(self, what):
        if self._hw is None:
            raise ValueError(f"{what}: call set_target first")

    @property
    def steps_done(self):
        """Steps fitted since the sources or masks were set."""
        return self._native.steps_done

    @property
    def kept_step(self):
        """Under a stopping rule: the step whose output ``output()`` returns."""
        return self._native.kept_step

    @property
    def stopped(self):
        """Under a stopping rule: the fit has stopped improving and ended."""
        return self._native.stopped

    @property
    def validation_curve(self):
        """Under a stopping rule: (step, score) of every check (the held-out MSE, the spread
        or the drift, as the rule's signal scores)."""
        return self._native.validation_curve

    def heldout_mask(self):
        """Under a stopping rule: the held-out pixels of the first source (True = held out)."""
        return self._native.heldout_mask()
