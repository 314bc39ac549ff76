"""Explanations: how much each feature contributed to a trained model's output, row by row.

The second kind of job beside training, run by the same trainer binary
(`--explain`) or by `railyard explain`: `job.py` runs it, `source.py` reads
the rows, `contributions.py` picks and applies the method for the model,
`outputs.py` writes explanations.parquet and importance.json.
"""

from railyard.explain.job import DEFAULT_BATCH_ROWS, ExplainRequest, Outcome, run_explanation

__all__ = ["DEFAULT_BATCH_ROWS", "ExplainRequest", "Outcome", "run_explanation"]
