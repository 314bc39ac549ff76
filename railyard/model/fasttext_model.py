"""A fastText text classifier as a model object: scored through fastText's C++ predictor.

The released Python bindings build their results with `np.array(..., copy=False)`,
which NumPy 2 refuses, and their batch predictor (`multilinePredict`) hands back
probability arrays that NumPy 2 reads wrongly. This wrapper asks the bound C++
predictor (`f.predict`) line by line for every label's probability, which comes
back as plain Python pairs, and builds the arrays itself, so the project keeps
NumPy 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL_PREFIX = "__label__"


def texts(dataframe: pd.DataFrame, columns: list[str]) -> list[str]:
    """One line of text per row: the text columns joined, newlines removed (fastText reads lines)."""
    joined = dataframe[columns].astype(str).agg(" ".join, axis=1)
    return joined.str.replace(r"\s+", " ", regex=True).str.strip().tolist()


class FastTextModel:
    def __init__(self, model, text_columns: list[str], classes: list):
        self.model = model
        self.text_columns = list(text_columns)
        self.classes = list(classes)  # in the label's own values; probability columns follow this order

    def predict_proba(self, dataframe: pd.DataFrame) -> np.ndarray:
        lines = texts(dataframe, self.text_columns)
        column = {f"{LABEL_PREFIX}{c}": i for i, c in enumerate(self.classes)}
        matrix = np.zeros((len(lines), len(self.classes)))
        for row, line in enumerate(lines):
            for probability, name in self.model.f.predict(line + "\n", len(self.classes), 0.0, "strict"):
                matrix[row, column[name]] = probability
        return np.clip(matrix, 0.0, 1.0)

    def predict(self, dataframe: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.predict_proba(dataframe).argmax(axis=1)]
