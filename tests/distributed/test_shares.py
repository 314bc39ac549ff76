"""Each worker's share of the input, and the RANDOM holdout that does not depend on the number of workers."""

import numpy as np
import pytest

from railyard.distributed.env import WorkerEnv
from railyard.pipeline.load import ROW_POSITION
from railyard.pipeline.run import load_and_filter
from railyard.pipeline.split import holdout_mask
from railyard.pipeline.steps import StepRecorder
from railyard.spec import TrainingSpec
from tests.conftest import example_spec

RANDOM = {"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.2, "seed": 3}}


def holdout_positions(spec: TrainingSpec, rank: int = 0, world_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(every row's position, the holdout rows' positions) of one worker's share."""
    table, _ = load_and_filter(spec, StepRecorder(progress=lambda line: None), WorkerEnv(rank, world_size, "127.0.0.1", 1))
    positions = table.column(ROW_POSITION).to_numpy()
    return positions, positions[np.asarray(holdout_mask(table, spec.holdout_sampling))]


@pytest.fixture(params=["one_file", "partitioned"])
def data_path(request, charges_path, partitioned_charges_path):
    return charges_path if request.param == "one_file" else partitioned_charges_path


def test_three_shares_are_disjoint_and_hold_the_single_workers_holdout(data_path):
    spec = TrainingSpec.model_validate(example_spec("fraud", data_path, holdout_sampling=RANDOM))
    rows, holdout = holdout_positions(spec)
    shares = [holdout_positions(spec, rank, 3) for rank in range(3)]
    assert all(len(share_holdout) > 0 for _, share_holdout in shares)
    share_rows = np.concatenate([share_rows for share_rows, _ in shares])
    assert len(np.unique(share_rows)) == len(share_rows) == len(rows)
    np.testing.assert_array_equal(np.sort(share_rows), np.sort(rows))
    np.testing.assert_array_equal(np.sort(np.concatenate([h for _, h in shares])), np.sort(holdout))
    assert abs(len(holdout) / len(rows) - 0.2) < 0.02


def test_a_rows_draw_does_not_depend_on_the_filters(charges_path):
    filtered = TrainingSpec.model_validate(example_spec("fraud", charges_path, holdout_sampling=RANDOM))
    unfiltered = TrainingSpec.model_validate(example_spec("fraud", charges_path, holdout_sampling=RANDOM, filters=[]))
    rows, holdout = holdout_positions(filtered)
    _, all_holdout = holdout_positions(unfiltered)
    np.testing.assert_array_equal(holdout, np.intersect1d(all_holdout, rows))
    assert len(rows) < 20_000


def test_another_seed_draws_another_holdout(charges_path):
    spec = TrainingSpec.model_validate(example_spec("fraud", charges_path, holdout_sampling=RANDOM))
    reseeded = TrainingSpec.model_validate(example_spec(
        "fraud", charges_path, holdout_sampling={**RANDOM, "random_sampling": {"fraction": 0.2, "seed": 4}}))
    _, holdout = holdout_positions(spec)
    _, other = holdout_positions(reseeded)
    assert len(np.intersect1d(holdout, other)) < 0.5 * len(holdout)


def test_a_filter_on_a_partition_column_reads_only_its_partitions(partitioned_charges_path):
    december = {"feature_name": "month", "predicate": "IsIn", "feature_value": {"string_vals": ["2018-12"]}}
    raw = example_spec("fraud", partitioned_charges_path, filters=[december])
    raw["data"]["features"][0]["names"].append("month")
    spec = TrainingSpec.model_validate(raw)
    recorder = StepRecorder(progress=lambda line: None)
    table, _ = load_and_filter(spec, recorder)
    months = table.column("created_at").to_pandas().dt.strftime("%Y-%m")
    assert len(table) > 0 and set(months) == {"2018-12"}
    read, total = map(int, recorder.steps[0].details["row_groups_read"].split("/"))
    assert read < total  # the other months are never opened

    shares = [holdout_positions(spec, rank, 3)[0] for rank in range(3)]
    np.testing.assert_array_equal(np.sort(np.concatenate(shares)), np.sort(table.column(ROW_POSITION).to_numpy()))
