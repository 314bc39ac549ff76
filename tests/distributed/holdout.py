"""The holdout rows a spec's run evaluates on, in input order, recomputed through the pipeline's own load and split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from railyard.pipeline.load import ROW_POSITION, open_source, read_positioned
from railyard.pipeline.run import load_and_filter
from railyard.pipeline.split import holdout_mask, split_with_positions
from railyard.pipeline.steps import StepRecorder
from railyard.spec import TrainingSpec


def _loaded(spec: dict) -> tuple[TrainingSpec, pa.Table]:
    training_spec = TrainingSpec.model_validate(spec)
    table, _ = load_and_filter(training_spec, StepRecorder(progress=lambda line: None))
    return training_spec, table.unify_dictionaries()


def holdout_frame(spec: dict) -> pd.DataFrame:
    """The spec's holdout rows (features and label, strings as categories) as one worker reads them."""
    training_spec, table = _loaded(spec)
    columns = list(dict.fromkeys(training_spec.train.classifier_features + [training_spec.train.label]))
    _, holdout, _ = split_with_positions(table, training_spec.holdout_sampling, columns)
    return holdout


def holdout_input_rows(spec: dict) -> pd.DataFrame:
    """The spec's holdout rows as they are in its first source (every column, strings as str), in input order."""
    training_spec, table = _loaded(spec)
    positions = np.sort(table.column(ROW_POSITION).to_numpy()[np.asarray(holdout_mask(table, training_spec.holdout_sampling))])
    source = open_source(0, training_spec.data.features[0])
    everything = read_positioned(source, source.schema.names, None, []).table
    rows = everything.filter(pa.array(np.isin(everything.column(ROW_POSITION).to_numpy(), positions)))
    plain = [rows.column(name).cast(rows.schema.field(name).type.value_type) if pa.types.is_dictionary(rows.schema.field(name).type)
             else rows.column(name) for name in source.schema.names]
    return pa.table(plain, names=source.schema.names).to_pandas()
