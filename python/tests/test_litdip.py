"""The reference's API on small synthetic scenes, on whatever adapter the library picks."""
import numpy as np
import pytest

import cloudfill


def test_reference_flow_outputs_every_source_in_order(scene):
    target, guide, clear = scene
    dip = cloudfill.LitDIP(epoch_steps=6)
    dip.set_target([target, np.moveaxis(guide, -1, 0)])
    dip.set_mask([clear, np.ones(clear.shape)])
    loss = dip.fit(max_epochs=2)
    assert dip.steps_done == 12 and np.isfinite(loss)
    out = dip.output()
    assert [o.shape for o in out] == [(64, 64, 3), (64, 64, 2)]
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in out)
    assert all(((o >= 0) & (o <= 1)).all() for o in out)  # the sigmoid
    assert dip.target_channels == [3, 2]
    # A second fit continues, and the output moves with it.
    dip.fit(steps=4)
    assert dip.steps_done == 16
    assert not np.array_equal(dip.output()[0], out[0])


def test_the_fit_lowers_the_loss_and_the_callback_sees_it(scene):
    target, _, clear = scene
    seen = []
    dip = cloudfill.LitDIP(target=target, mask=clear, loss_every=5)
    dip.fit(steps=30, callback=lambda step, loss: seen.append((step, loss)))
    assert [s for s, _ in seen] == [5, 10, 15, 20, 25, 30]
    assert seen[-1][1] < seen[0][1]


def test_a_callback_returning_false_stops_the_fit(scene):
    target, _, clear = scene
    dip = cloudfill.LitDIP(target=target, mask=clear, loss_every=5)
    dip.fit(steps=100, callback=lambda step, loss: step < 10)
    assert dip.steps_done == 10


def test_a_callback_error_propagates_and_the_object_stays_usable(scene):
    target, _, clear = scene
    dip = cloudfill.LitDIP(target=target, mask=clear, loss_every=5)

    def boom(step, loss):
        raise RuntimeError(f"stop at {step}")

    with pytest.raises(RuntimeError, match="stop at 5"):
        dip.fit(steps=50, callback=boom)
    assert dip.steps_done == 5
    dip.fit(steps=5)
    assert dip.steps_done == 10 and np.isfinite(dip.output()[0]).all()


def test_progress_without_tqdm_prints_one_line(scene, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    target, _, clear = scene
    cloudfill.LitDIP(target=target, mask=clear).fit(steps=10, progress=True)
    err = capsys.readouterr().err
    assert "cloudfill: step 10/10, loss " in err and err.endswith("\n")


def test_an_ensemble_gives_a_spread_and_the_stopping_rule_a_kept_step(scene):
    target, guide, clear = scene
    rule = {"every": 5, "min_steps": 10, "patience": 100, "signal": "heldout", "holdout": 0.1}
    dip = cloudfill.LitDIP(ensemble=2, stop=rule, seed=3)
    dip.set_target([target, guide])
    dip.set_mask([clear, np.ones_like(clear)])
    dip.fit(steps=30)
    out, sigma = dip.output_and_uncertainty()
    assert sigma[0].shape == (64, 64, 3) and (sigma[0] > 0).mean() > 0.9
    assert dip.kept_step is not None and 10 <= dip.kept_step <= 30
    assert [s for s, _ in dip.validation_curve] == [5, 10, 15, 20, 25, 30]
    held = dip.heldout_mask()
    assert held.shape == (64, 64) and held.any() and not (held & ~clear).any()
    single = cloudfill.LitDIP(target=target, mask=clear)
    assert single.uncertainty()[0].max() == 0.0


def test_the_spread_signal_stops_an_ensemble_without_held_out_pixels(scene):
    target, guide, clear = scene
    # An ensemble's recommended rule: the spread, nothing held out.
    rule = {"every": 5, "min_steps": 10, "patience": 100}
    dip = cloudfill.LitDIP(ensemble=2, stop=rule, seed=3)
    dip.set_target([target, guide])
    dip.set_mask([clear, np.ones_like(clear)])
    dip.fit(steps=20)
    assert [s for s, _ in dip.validation_curve] == [5, 10, 15, 20]
    assert all(v > 0 for _, v in dip.validation_curve)
    assert not dip.heldout_mask().any()
    with pytest.raises(ValueError, match="spread needs an ensemble of at least 2"):
        cloudfill.LitDIP(stop={"signal": "spread"})
    with pytest.raises(ValueError, match="stop signal: expected 'heldout', 'spread' or 'drift'"):
        cloudfill.LitDIP(ensemble=2, stop={"signal": "loss"})


def test_the_drift_signal_stops_one_network_without_held_out_pixels(scene):
    target, guide, clear = scene
    # The signal's own settings: nothing held out; the first check only records the fill.
    dip = cloudfill.LitDIP(stop={"signal": "drift", "every": 5, "min_steps": 10}, seed=3)
    dip.set_target([target, guide])
    dip.set_mask([clear, np.ones_like(clear)])
    dip.fit(steps=20)
    assert [s for s, _ in dip.validation_curve] == [10, 15, 20]
    assert all(v > 0 for _, v in dip.validation_curve)
    assert not dip.heldout_mask().any()
    assert 10 <= dip.kept_step <= 20


def test_bad_input_raises_value_errors_naming_it(scene):
    target, _, clear = scene
    dip = cloudfill.LitDIP()
    with pytest.raises(ValueError, match="set_mask: call set_target first"):
        dip.set_mask(clear)
    with pytest.raises(ValueError, match="fit: call set_target first"):
        dip.fit(steps=1)
    dip.set_target(target)
    with pytest.raises(ValueError, match=r"mask: expected an H×W mask of the sources' size 64×64"):
        dip.set_mask(clear[:32])
    with pytest.raises(ValueError, match="no clear pixel"):
        dip.set_mask(np.zeros_like(clear))
    bad = target.copy()
    bad[0, 0, 0] = np.nan
    dip.set_target(bad)
    with pytest.raises(ValueError, match="NaN/Inf values in clear pixels"):
        dip.set_mask(clear)
    with pytest.raises(ValueError, match="steps: expected an integer ≥ 1, got 0"):
        dip.fit(steps=0)
    with pytest.raises(ValueError, match="not both"):
        dip.fit(steps=1, max_epochs=1)
    with pytest.raises(ValueError, match="latent_seed"):
        cloudfill.LitDIP(latent_seed="noise")
    with pytest.raises(ValueError, match="learning rate"):
        cloudfill.LitDIP(lr=-1)
    with pytest.raises(ValueError, match=r"stop: unknown setting\(s\) \['patients'\]"):
        cloudfill.LitDIP(stop={"patients": 3})
    with pytest.raises(TypeError):
        cloudfill.LitDIP(unknown_option=1)


def test_latent_seed_spellings(scene):
    target, _, clear = scene
    for latent in ["meshgrid", "target", (0.1, 8)]:
        dip = cloudfill.LitDIP(target=target, mask=clear, latent_seed=latent)
        dip.fit(steps=2)
        assert np.isfinite(dip.output()[0]).all()


def test_adapters_name_the_one_in_use():
    found = cloudfill.adapters()
    assert found and sum(a["chosen"] for a in found) == 1
    chosen = next(a for a in found if a["chosen"])
    assert cloudfill.adapter().startswith(chosen["name"])
