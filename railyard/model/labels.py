"""A label's encoding: the codes a workflow trains on, and how they read back as the label's own values.

A two-valued label with `train.positive_label` is trained on as 0/1, 1 for the
positive class, and a binary score is P(label == positive_label). A string
label with more values is trained on as codes 0..k-1 in the order of its
sorted class names, and a prediction (a code) reads back as a class name.
The encoding is recorded in the model's manifest as `label_encoding`:
`{"classes": [negative, positive], "positive_label": positive}` or
`{"classes": [name, ...]}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LabelEncoding:
    classes: tuple  # classes[code] is the label value that code stands for
    binary: bool  # True: classes are (negative, positive) and scores are P(positive)

    @property
    def positive_label(self) -> Any:
        return self.classes[1] if self.binary else None

    def as_dict(self) -> dict:
        recorded: dict[str, Any] = {"classes": list(self.classes)}
        if self.binary:
            recorded["positive_label"] = self.positive_label
        return recorded

    @classmethod
    def from_dict(cls, recorded: dict | None) -> "LabelEncoding | None":
        if not recorded:
            return None
        return cls(tuple(recorded["classes"]), "positive_label" in recorded)

    def decode(self, codes) -> np.ndarray:
        """Label values for codes; a code that stands for no class becomes None."""
        codes = np.asarray(codes).reshape(-1).astype(np.int64)
        known = (codes >= 0) & (codes < len(self.classes))
        classes = np.asarray(self.classes)
        if known.all():
            return classes[codes]
        decoded = np.full(codes.size, None, dtype=object)
        decoded[known] = classes[codes[known]]
        return decoded

    def decode_predictions(self, scores):
        """Multi-class predictions (class codes) as class names; binary scores, which are already
        P(positive), and predictions that are not codes are returned unchanged. A DataFrame's first
        column is the prediction."""
        if self.binary:
            return scores
        if isinstance(scores, pd.DataFrame):
            if scores.shape[1] == 0 or not _are_codes(scores.iloc[:, 0]):
                return scores
            decoded = scores.copy()
            decoded[decoded.columns[0]] = self.decode(scores.iloc[:, 0])
            return decoded
        return self.decode(scores) if _are_codes(scores) else scores


def _are_codes(values) -> bool:
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind in "iu":
        return True
    return values.dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=False) == "integer"
