"""Explaining five times the rows takes about the same memory: it follows --batch-rows, not the input."""

import re

import pyarrow.parquet as pq
import pytest

from tests.conftest import example_spec
from tests.explain.conftest import explain, train
from workflows.data import charges

pytestmark = pytest.mark.slow


def peak_rss_of_explain(model, data, output, batch_rows: int) -> int:
    """Peak resident memory (bytes) of a `railyard explain` process, as it reports it (the kernel's VmHWM)."""
    run = explain("--model", model, "--data", data, "--output", output, "--batch-rows", batch_rows)
    assert run.returncode == 0, run.stderr
    return int(re.search(r"peak memory (\d+) MiB", run.stdout).group(1)) * 2**20


def test_one_million_rows_in_memory_bounded_by_the_batch(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"].update(n_estimators=5, max_depth=3)
    (tmp_path / "model").mkdir()
    small = train(tmp_path / "model", spec)
    mib = 2**20
    peaks = {}
    for rows in (200_000, 1_000_000):
        data = charges.write(rows, tmp_path / f"charges-{rows}.parquet", row_group_rows=50_000)
        peaks[rows] = peak_rss_of_explain(small.artifact, data, tmp_path / f"explained-{rows}", 10_000)
        assert pq.read_metadata(tmp_path / f"explained-{rows}" / "explanations.parquet").num_rows == rows
    print("peak RSS by input rows:", {rows: f"{peak / mib:.0f} MiB" for rows, peak in peaks.items()})
    assert peaks[1_000_000] - peaks[200_000] < 64 * mib  # five times the rows, about the same memory
