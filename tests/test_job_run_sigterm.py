"""SIGTERM stops a job's work even when it first arrives inside a finalizer, where Python swallows the exception it
raises ("Exception ignored in ..."): the trainer raises it again until the run has taken it."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from railyard import job_run

    signal.signal(signal.SIGTERM, job_run._on_sigterm)

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the signal arrives while a finalizer runs
            for _ in range(20):
                time.sleep(0.01)

    try:
        Finalized()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.05)
        sys.exit(3)  # the work went on: SIGTERM was lost
    except job_run.Terminated:
        sys.exit(143)
""")


def test_a_sigterm_swallowed_by_a_finalizer_still_stops_the_work():
    finished = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "Exception ignored in" in finished.stderr, "the first Terminated was not swallowed: the test proves nothing"
    assert finished.returncode == 143, finished.stderr[-2000:]
