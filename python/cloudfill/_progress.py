"""Progress of a fit: tqdm when it is installed, otherwise one plain line on stderr."""
import sys
import time


class Progress:
    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.bar = None
        self.start = time.monotonic()
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, unit="step", desc="cloudfill")

    def update(self, step, loss, best, best_step):
        if not self.enabled:
            return
        text = f"loss {loss:.5f}"
        if best is not None:
            text += f", best check {best:.4g} (step {best_step})"
        if self.bar is not None:
            self.bar.update(step - self.done)
            self.bar.set_postfix_str(text, refresh=False)
        else:
            rate = step / max(time.monotonic() - self.start, 1e-9)
            sys.stderr.write(f"\rcloudfill: step {step}/{self.total}, {text}, {rate:.1f} steps/s ")
            sys.stderr.flush()
        self.done = step

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()
