"""The line `--wait` draws: its bar at any width, unknown totals and times, and plain lines off a terminal."""

import io

import pytest

from railyard.progress_bar import ProgressLine, duration, follow, render

PROGRESS = {"step": "train", "iteration": 120, "total": 500, "unit": "iteration", "elapsed_s": 3.2,
            "remaining_s": 10.1, "metric": "rmse", "training": 0.4, "holdout": 0.45, "updated_at": "2030-01-01T00:00:00Z"}


def test_the_full_line_at_a_wide_terminal():
    line = render(PROGRESS, "running", 120)
    assert line == "train  [#######.......................] 120/500 iterations  elapsed 0:03  left 0:10  holdout rmse 0.45"
    assert len(line) < 120


@pytest.mark.parametrize("width", [20, 40, 60, 80, 100, 200])
def test_the_line_never_reaches_the_last_column(width):
    line = render(PROGRESS, "running", width)
    assert len(line) <= width - 1
    assert line.startswith("train")


def test_a_narrow_terminal_drops_details_before_the_bar():
    line = render(PROGRESS, "running", 60)
    assert "[" in line and "120/500 iterations" in line
    assert "holdout rmse" not in line


def test_the_bar_fills_with_the_fraction_done():
    empty = render({**PROGRESS, "iteration": 0}, "running", 120)
    full = render({**PROGRESS, "iteration": 500, "remaining_s": 0.0}, "running", 120)
    assert "[" + "." * 30 + "]" in empty
    assert "[" + "#" * 30 + "]" in full and "left 0:00" in full


def test_unknown_total_shows_the_count_without_a_bar():
    line = render({**PROGRESS, "total": None, "remaining_s": None}, "running", 100)
    assert line == "train  120 iterations  elapsed 0:03  holdout rmse 0.45"


def test_zero_elapsed_and_unknown_remaining():
    line = render({**PROGRESS, "iteration": 1, "elapsed_s": 0.0, "remaining_s": None}, "running", 120)
    assert "elapsed 0:00" in line and "left" not in line and "1/500 iterations" in line


def test_epochs_and_training_loss_when_there_is_no_holdout_loss():
    line = render({**PROGRESS, "unit": "epoch", "iteration": 2, "total": 5, "holdout": None, "metric": "log_loss"},
                  "running", 120)
    assert "2/5 epochs" in line and "training log_loss 0.4" in line


def test_without_progress_the_line_names_the_step_or_the_state():
    assert render(None, "queued", 80) == "queued"
    assert render(None, "running", 80) == "running"
    assert render({"step": "train", "elapsed_s": 0.0}, "running", 80) == "train  elapsed 0:00"


def test_durations():
    assert [duration(s) for s in (0, 3.2, 59.6, 754, 3723, None, -1)] == ["0:00", "0:03", "1:00", "12:34", "1:02:03", "?", "?"]


def test_plain_lines_have_no_bar():
    assert render(PROGRESS, "running", None) == "train  120/500 iterations  elapsed 0:03  left 0:10  holdout rmse 0.45"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_terminal_redraws_one_line_in_place():
    stream = io.StringIO()
    line = ProgressLine(stream, terminal=True)
    line.show(None, "running")
    line.show({**PROGRESS, "iteration": 10}, "running")
    line.show({**PROGRESS, "iteration": 10}, "running")  # unchanged: not drawn again
    line.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "10/500 iterations" in text.split("\r")[-1]


def test_off_a_terminal_a_line_per_change_at_a_bounded_rate():
    stream, clock = io.StringIO(), Clock()
    line = ProgressLine(stream, terminal=False, interval_s=2.0, clock=clock)
    for i in range(1, 51):  # a change every 0.1 s for 5 s
        clock.now = i * 0.1
        line.show({**PROGRESS, "iteration": i}, "running")
    line.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [l.split()[1] for l in lines] == ["1/500", "21/500", "41/500", "50/500"]


def test_follow_prints_state_changes_to_out_and_returns_the_final_state():
    answers = iter([("queued", ["j queued"], None), ("running", ["j running"], PROGRESS),
                    ("running", [], {**PROGRESS, "iteration": 500}), ("complete", ["j complete"], None)])
    out, err = io.StringIO(), io.StringIO()
    state = follow(lambda: next(answers), ("complete", "failed"), out=out,
                   line=ProgressLine(err, terminal=True), poll_seconds=0)
    assert state == "complete"
    assert out.getvalue().splitlines() == ["j queued", "j running", "j complete"]
    drawn = err.getvalue()
    assert "[" in drawn and "500/500 iterations" in drawn and drawn.endswith("\n")


def test_a_job_that_completes_between_polls_leaves_its_bar_full():
    """The last poll while it ran saw 1 of 200; the bar's last frame is the finished one, not 1/200."""
    started = {**PROGRESS, "iteration": 1, "total": 200}
    answers = iter([("running", ["j running"], started), ("complete", ["j complete"], None)])
    out, err = io.StringIO(), io.StringIO()
    assert follow(lambda: next(answers), ("complete", "failed"), out=out, line=ProgressLine(err, terminal=True), poll_seconds=0) == "complete"
    last_frame = err.getvalue().rstrip("\n").split("\r")[-1]
    assert "200/200 iterations" in last_frame and "1/200" not in last_frame
    failed = iter([("running", [], started), ("failed", ["j failed"], None)])
    err = io.StringIO()
    follow(lambda: next(failed), ("complete", "failed"), out=io.StringIO(), line=ProgressLine(err, terminal=True), poll_seconds=0)
    assert "200/200" not in err.getvalue()  # a failed job's bar stays where it stopped
