"""How a run shows its progress: a tqdm bar on a terminal, a plain line every 10 s elsewhere (a
journal, a pipe), and once the first batches are in, how long the rest will take."""

from __future__ import annotations

import sys
import time


class Progress:
    """A tqdm bar (files/s, ETA) on a terminal; a plain line every 10 s otherwise."""

    def __enter__(self):
        self.bar, self.last = None, 0.0
        self.start = time.perf_counter()
        self.first: tuple[int, float] | None = None  # after the first batch, which loads the model
        self.estimated = False
        return self

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = done, now
        elif not self.estimated and now - self.first[1] >= 5 and done < total:
            self.estimated = True
            rate = (done - self.first[0]) / (now - self.first[1])
            self.say(
                f"about {_duration((total - done) / rate)} to go for {total - done} files "
                f"({rate:.2f} files/s); the photos indexed so far can be searched already"
            )
        if sys.stderr.isatty():
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="file", desc="indexing")
            self.bar.update(done - self.bar.n)
        elif now - self.last >= 10 or done == total:
            self.last = now
            rate = done / max(now - self.start, 1e-9)
            print(f"indexed {done}/{total} files ({rate:.1f} files/s)", file=sys.stderr, flush=True)

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    """3 h 05 min, 12 min, 40 s."""
    minutes = round(seconds / 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min" if minutes else f"{max(round(seconds), 1)} s"
