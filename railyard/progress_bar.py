"""How `railyard submit --wait` and `railyard launch --wait` show a running job.

On a terminal, one line redrawn in place with a carriage return:

    train  [#########.........] 120/500 iterations  elapsed 0:03  left 0:10  holdout rmse 0.45

Elsewhere (a pipe, a CI log), the same facts as plain lines without the bar, a
line per change and at most one every few seconds, never a carriage return.
Where no progress is known the line names the step, or the job's state.
`render` and `duration` are pure; `ProgressLine` draws; `follow` polls a job to its end.
Every line is printed without control characters (railyard.printable): its
text comes from the job.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Collection
from typing import TextIO

from railyard.printable import printable

BAR_MAX = 30
BAR_MIN = 8
SEPARATOR = "  "
DEFAULT_WIDTH = 80


def duration(seconds: float | None) -> str:
    """0:03, 12:34, 1:02:03; "?" when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _loss(progress: dict) -> str | None:
    for which in ("holdout", "training"):
        value = progress.get(which)
        if isinstance(value, (int, float)):
            return f"{which} {progress.get('metric') or 'loss'} {value:.4g}"
    return None


def render(progress: dict | None, state: str, width: int | None = DEFAULT_WIDTH) -> str:
    """The job's line: with a bar of `width` columns at most (width None: no bar, no limit)."""
    progress = {k: printable(v, multiline=False) if isinstance(v, str) else v for k, v in (progress or {}).items()}
    state = printable(state, multiline=False)
    label = progress.get("step") if state in ("queued", "running") and progress.get("step") else state
    iteration, total = progress.get("iteration"), progress.get("total")
    unit = f"{progress.get('unit') or 'iteration'}s"
    count = None
    if iteration is not None:
        count = f"{iteration}/{total} {unit}" if total else f"{iteration} {unit}"
    elapsed, remaining = progress.get("elapsed_s"), progress.get("remaining_s")
    optional = [f"elapsed {duration(elapsed)}" if elapsed is not None else None,
                f"left {duration(remaining)}" if remaining is not None and iteration is not None else None,
                _loss(progress)]
    optional = [part for part in optional if part]
    fraction = min(max(iteration / total, 0.0), 1.0) if iteration is not None and total else None
    if width is None:
        return SEPARATOR.join(part for part in [label, count, *optional] if part)
    while True:
        rest = [part for part in [count, *optional] if part]
        used = len(SEPARATOR.join([label, *rest]))
        room = width - 1 - used - 3  # never the last column: a terminal would wrap there
        if fraction is None or room >= BAR_MIN or not optional:
            break
        optional.pop()
    if fraction is not None and room >= BAR_MIN:
        size = min(room, BAR_MAX)
        filled = int(fraction * size + 0.5)
        rest[0] = f"[{'#' * filled}{'.' * (size - filled)}] {rest[0]}"
    return SEPARATOR.join([label, *rest])[: max(width - 1, 1)]


class ProgressLine:
    """Draws a job's line on `stream`: redrawn in place on a terminal, plain lines elsewhere."""

    def __init__(self, stream: TextIO | None = None, *, terminal: bool | None = None, interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.terminal = _isatty(self.stream) if terminal is None else terminal
        self.interval_s = interval_s
        self.clock = clock
        self._drawn = ""
        self._last: str | None = None
        self._pending: str | None = None
        self._printed_at: float | None = None

    def width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or DEFAULT_WIDTH
        except (OSError, ValueError, AttributeError):
            return DEFAULT_WIDTH

    def show(self, progress: dict | None, state: str) -> None:
        if self.terminal:
            text = render(progress, state, self.width())
            if text != self._drawn:
                self._draw(text)
            return
        text = render(progress, state, None)
        if text == self._last or text == self._pending:
            return
        now = self.clock()
        if self._printed_at is None or now - self._printed_at >= self.interval_s:
            self._print(text, now)
        else:
            self._pending = text

    def message(self, text: str, stream: TextIO | None = None) -> None:
        """Print a line of its own (a state change) above the drawn line."""
        drawn = self._drawn
        self._clear()
        print(printable(text), file=stream or sys.stdout, flush=True)
        if drawn:
            self._draw(drawn)

    def close(self) -> None:
        """Leave the last line on screen (on a terminal) or print the last change not yet printed."""
        if self.terminal and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = ""
        elif not self.terminal and self._pending:
            self._print(self._pending, self.clock())

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text + " " * max(len(self._drawn) - len(text), 0))
        self.stream.flush()
        self._drawn = text

    def _clear(self) -> None:
        if self.terminal and self._drawn:
            self.stream.write("\r" + " " * len(self._drawn) + "\r")
            self.stream.flush()
            self._drawn = ""

    def _print(self, text: str, now: float) -> None:
        print(text, file=self.stream, flush=True)
        self._last, self._pending, self._printed_at = text, None, now


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def follow(poll: Callable[[], tuple[str, list[str], dict | None]], finished: Collection[str], *,
           out: TextIO | None = None, line: ProgressLine | None = None, poll_seconds: float = 1.0) -> str:
    """Poll a job until its state is in `finished`; return that state.

    `poll()` answers (state, lines to print to `out` (state changes), progress or None). A job that completes
    between two polls leaves its bar full: the last frame is the finished one.
    """
    line = line or ProgressLine()
    last = None
    while True:
        state, lines, progress = poll()
        last = progress or last
        if state in finished:
            if state == "complete" and last and last.get("total") and last.get("iteration") is not None:
                line.show({**last, "step": last.get("step"), "iteration": last["total"], "remaining_s": 0}, "running")
            line.close()
            for text in lines:
                print(printable(text), file=out or sys.stdout, flush=True)
            return state
        for text in lines:
            line.message(text, out)
        line.show(progress, state)
        time.sleep(poll_seconds)
