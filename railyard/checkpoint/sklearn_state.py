"""A scikit-learn estimator that continues (`partial_fit` epoch after epoch, or more trees with `warm_start`) as
one checkpoint file, with the global random states (numpy, Python), so that a workflow's own loop over it resumes
where it stopped and ends with the uninterrupted run's model.

The estimator is pickled, as scikit-learn persists its models, and read back through the model store's allowlist
(railyard.model.formats.pickle_format): classes of numpy, scipy, scikit-learn and pandas, and of the modules named,
so that a file planted among a run's outputs cannot run code.
"""

from __future__ import annotations

import pickle
import random

import numpy as np

from railyard.model.formats.pickle_format import LIBRARIES, AllowlistUnpickler


def sklearn_state(estimator) -> bytes:
    """The estimator as it is now and the global random states, as bytes."""
    return pickle.dumps({"estimator": estimator, "numpy": np.random.get_state(), "python": random.getstate()}, protocol=5)


def restore_sklearn_state(data: bytes, *modules: str):
    """The estimator `sklearn_state` saved, with the global random states put back. `modules`: where classes of
    the estimator's besides the libraries' live (the workflow's own module, for an estimator of its own)."""
    state = AllowlistUnpickler(data, (*LIBRARIES, *modules)).load()
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    return state["estimator"]
