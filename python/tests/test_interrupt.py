"""Ctrl-C in a notebook: KeyboardInterrupt after the current step, the object still usable, the
GIL released while the GPU works."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import cloudfill


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler, even when the test runner was started with SIGINT ignored
    (a background job)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_stops_within_a_step_and_the_fit_goes_on(scene, sigint_raises):
    target, _, clear = scene
    dip = cloudfill.LitDIP(target=target, mask=clear, loss_every=1000)
    dip.fit(steps=1)  # builds the step: what follows times steps only
    steps = []
    started = threading.Event()

    def ctrl_c():
        started.wait()
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        started.set()
        dip.fit(steps=100000, callback=lambda s, l: steps.append(s))
    assert time.monotonic() - t0 < 120
    done = dip.steps_done
    assert 1 < done < 100001
    dip.fit(steps=2)
    assert dip.steps_done == done + 2
    assert np.isfinite(dip.output()[0]).all()


def test_other_threads_run_while_the_gpu_works(scene):
    target, _, clear = scene
    dip = cloudfill.LitDIP(target=target, mask=clear)
    dip.fit(steps=1)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=count)
    t.start()
    t0 = time.monotonic()
    dip.fit(steps=8)
    elapsed = time.monotonic() - t0
    stop.set()
    t.join()
    during = [x for x in ticks if t0 <= x <= t0 + elapsed]
    # With the GIL held for the whole fit the thread would tick at most once or twice.
    assert len(during) >= min(10, elapsed / 0.05)
