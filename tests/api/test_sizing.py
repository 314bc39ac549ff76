"""Sizing from measured runs: a complete run records its peak memory and rows; a dry run of the same owner's
model says what the next run should need and which class holds it."""

from __future__ import annotations

import pytest
import yaml

from railyard.api.sizing import fit, measured, size
from railyard.api.store.models import Job
from railyard.launch.resources import DEFAULT_CONFIG, load_config
from tests.api.test_explain import wait_for
from tests.api.test_routes import body

GIB = 2**30


def run(rows: int, peak_gib: float) -> Job:
    return Job(rows_loaded=rows, peak_memory_bytes=int(peak_gib * GIB))


def test_a_line_through_runs_of_different_sizes_and_a_proportion_through_one():
    assert fit([(1_000, 1 * GIB)], 4_000) == 4 * GIB
    assert fit([(1_000, 1 * GIB), (3_000, 2 * GIB)], 5_000) == pytest.approx(3 * GIB)  # 0.5 GiB fixed, 0.5 GiB per 1,000 rows
    assert fit([(1_000, 2 * GIB), (3_000, 1 * GIB)], 9_000) == pytest.approx(1.5 * GIB)  # never less with more rows


def test_the_smallest_class_that_holds_the_estimate_up_the_larger_classes():
    config = load_config()  # CPU 8Gi, its larger HIGH_MEMORY 120Gi
    small = size([run(1_000_000, 2)], 2_000_000, "CPU", config)
    assert small.resource_class == "CPU" and small.estimate_bytes == 5 * GIB
    assert small.summary == ("the last run of this model peaked at 2.0 GiB on 1,000,000 rows; this run has 2,000,000 rows "
                             "→ about 5.0 GiB → class CPU")
    bigger = size([run(1_000_000, 2), run(2_000_000, 3)], 20_000_000, "CPU", config)
    assert bigger.resource_class == "HIGH_MEMORY" and "the last 2 runs of this model peaked at 3.0 GiB on 2,000,000 rows" in bigger.summary
    beyond = size([run(1_000_000, 2)], 100_000_000, "CPU", config)
    assert beyond.resource_class is None and beyond.summary.endswith("→ more than any class from CPU allows")
    assert size([], 1_000, "CPU", config) is None
    assert size([run(1_000, 30)], 1_000, "GPU", config).resource_class is None  # GPU has no larger class


@pytest.mark.parametrize("steps, expected", [
    ([{"name": "load", "rows_out": 1000, "peak_memory_bytes": 5}, {"name": "train", "peak_memory_bytes": 9}], (9, 1000)),
    ([{"name": "load", "rows_out": 10**30, "peak_memory_bytes": 5}], (None, None)),  # would not fit a BIGINT
    ([{"name": "load", "rows_out": 1000, "peak_memory_bytes": -1}], (None, None)),
    ([{"name": "load", "rows_out": True, "peak_memory_bytes": 5}], (None, None)),
    ([{"name": "load", "rows_out": "1000", "peak_memory_bytes": 5.5}], (None, None)),
    ("steps", (None, None)),
])
def test_what_a_run_measured_is_read_bounded_from_its_result(steps, expected):
    assert measured({"result": {"kind": "training", "steps": steps}}) == expected


@pytest.mark.slow
def test_a_dry_run_after_a_complete_run_sizes_the_next(app_factory, charges_path, tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["resource_classes"]["CPU"].update(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})
    (tmp_path / "classes.yaml").write_text(yaml.safe_dump(config))
    client = app_factory(dev=True, launch_config=str(tmp_path / "classes.yaml"))
    assert client.post("/validate", json=body(charges_path)).json()["sizing"] is None  # no run measured yet

    request = body(charges_path)
    request["spec"]["train"]["custom_params"]["n_estimators"] = 20
    job_id = client.post("/train", json=request).json()["job_id"]
    assert wait_for(client, job_id)["job_state"] == "complete"
    load = next(s for s in client.get(f"/job/{job_id}/result").json()["result"]["steps"] if s["name"] == "load")

    same = client.post("/validate", json=body(charges_path)).json()
    assert same["sizing"]["summary"].startswith(f"the last run of this model peaked at ") and f"on {load['rows_out']:,} rows; " in same["sizing"]["summary"]
    assert same["sizing"]["resource_class"] == "CPU" and same["sizing"]["estimate_bytes"] < GIB

    unfiltered = body(charges_path)
    unfiltered["spec"]["filters"] = []  # every row of the file: more rows than the run measured
    more = client.post("/validate", json=unfiltered).json()
    assert more["rows_after_filters"] > load["rows_out"]
    assert more["sizing"]["estimate_bytes"] > same["sizing"]["estimate_bytes"]
    assert more["sizing"]["resource_class"] == ("CPU" if more["sizing"]["estimate_bytes"] <= GIB else "HIGH_MEMORY")

    other_owner = body(charges_path)
    other_owner["spec"]["metadata"]["owner"] = "someone-else"
    assert client.post("/validate", json=other_owner).json()["sizing"] is None  # another owner's runs are not read
