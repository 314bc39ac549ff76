"""The Workflow base class users subclass, and how a workflow is found by name.

A workflow implements one method, `train(training_dataframe, holdout_dataframe)`,
and returns a fitted model. Railyard does everything around it: loading,
filtering, splitting, scoring the holdout set, evaluating and persisting the
model. Both DataFrames hold the `classifier_features` columns, the label
column and `data.date_column` when the spec names one; string columns arrive
as pandas `category`. A label named with `train.positive_label` arrives as 0/1
(1 for the positive class) and a string label with more values as class codes
0..k-1 (`label_classes[code]` is the class); other labels arrive as they are.
A workflow that trains without features sets `requires_features = False`.

Workflows are looked up by class name: first among classes already imported
(for example through `--workflow-module`), then in the modules of the
`workflows` package (its folders with or without an `__init__.py`), whose sources
are scanned so that only the module that defines the class is imported (a fraud
trainer never imports torch).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from railyard.errors import WorkflowNotFound

WORKFLOW_PACKAGE = "workflows"


class Workflow:
    """Base class of every training workflow.

    Attributes set from the spec before `train` is called:
      custom_params        train.custom_params, untouched
      classifier_features  train.classifier_features (list of column names)
      classifier_label     train.label (column name)
      compute_resource     "CPU", "GPU" or "HIGH_MEMORY"
      device               "cuda" when a GPU run has one, else "cpu"
      date_column          data.date_column (None when the spec names none)
      label_classes        the label's values in code order when Railyard encoded the label
                           (positive class last for train.positive_label); None otherwise
      progress             where `train` reports how far it is: call
                           `self.progress.report(epoch, total, training=loss, holdout=loss, metric="log_loss",
                           unit="epoch")` once per epoch; XGBoost training (`xgboost.train` and the scikit-learn
                           API) reports each boosting round by itself. Railyard logs it, shows it to
                           `--wait` and the service, and keeps the learning curve (railyard.pipeline.progress)
      checkpoints          where a training loop of its own takes part in checkpoints, so that a pre-empted or
                           killed run resumes where it was: `with self.checkpoints.loop(total=epochs) as loop:`
                           (railyard.checkpoint.loop; XGBoost training checkpoints by itself)
      rank, world_size     this worker's index and the job's number of workers (`workers` in the spec);
                           0 and 1 unless the workflow is distributed

    Class attributes a workflow may override:
      requires_features    False when `train.classifier_features` may be empty (a forecast on
                           data.date_column alone); True by default
      distributed          True when `train` can run on several workers at once (spec `workers` > 1): each
                           worker gets its share of the training and holdout rows, and the workers' models
                           must agree; False by default
      min_training_examples  the fewest training rows a run accepts when its spec does not say (500; a
                           forecast on monthly data has far fewer)
      engine               the library a distributed workflow trains with: "xgboost" trains inside
                           XGBoost's collective (railyard.distributed.xgboost_collective)
    """

    registry: ClassVar[dict[str, type["Workflow"]]] = {}
    requires_features: ClassVar[bool] = True
    distributed: ClassVar[bool] = False
    engine: ClassVar[str | None] = None
    min_training_examples: ClassVar[int] = 500

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        Workflow.registry[cls.__name__] = cls

    def __init__(
        self,
        custom_params: dict[str, Any] | None = None,
        classifier_features: list[str] | None = None,
        classifier_label: str | None = None,
        compute_resource: str = "CPU",
        device: str = "cpu",
        date_column: str | None = None,
        label_classes: list | None = None,
    ):
        self.custom_params = dict(custom_params or {})
        self.classifier_features = list(classifier_features or [])
        self.classifier_label = classifier_label
        self.compute_resource = compute_resource
        self.device = device
        self.date_column = date_column
        self.label_classes = list(label_classes) if label_classes is not None else None
        self.rank = 0
        self.world_size = 1

    @property
    def progress(self):
        """The train step's ProgressReporter; one that only logs and keeps the curve for a workflow used by hand."""
        if getattr(self, "_progress", None) is None:
            from railyard.pipeline.progress import ProgressReporter  # only when used: loading a workflow imports no more

            self._progress = ProgressReporter()
        return self._progress

    @progress.setter
    def progress(self, reporter) -> None:
        self._progress = reporter

    @property
    def checkpoints(self):
        """The train step's LoopCheckpoints; one that writes none for a workflow used by hand."""
        if getattr(self, "_checkpoints", None) is None:
            from railyard.checkpoint.loop import LoopCheckpoints

            self._checkpoints = LoopCheckpoints(None, self.progress, self.device)
        return self._checkpoints

    @checkpoints.setter
    def checkpoints(self, checkpoints) -> None:
        self._checkpoints = checkpoints

    def train(self, training_dataframe: pd.DataFrame, holdout_dataframe: pd.DataFrame) -> Any:
        """Fit and return a model (an estimator, a scikit-learn Pipeline, a torch Module...)."""
        raise NotImplementedError(f"{type(self).__name__} must implement train()")

    def feature_columns(self) -> list[str]:
        """The columns a fitted model reads when scoring (recorded with the model)."""
        return list(self.classifier_features)

    def score(self, model: Any, features: pd.DataFrame):
        """Scores for rows of `features`: P(label=1) for binary classifiers, the predicted class (a
        class code, for an encoded label) for multi-class ones, predictions otherwise. A DataFrame
        may be returned: its first column is the score that is evaluated, and every column goes to
        scores.tsv."""
        return default_score(model, features)

    @classmethod
    def class_path(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"


def default_score(model: Any, features: pd.DataFrame):
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(features)
        if probabilities.ndim == 1:
            return probabilities
        if probabilities.shape[1] == 2:
            return probabilities[:, 1]
    return model.predict(features)


PROBABILITY_PREFIX = "p_"  # scores.tsv's column of one class's probability: p_<class>


def class_probabilities(model: Any, features: pd.DataFrame, names=None) -> pd.DataFrame | None:
    """Each class's probability as a column p_<class> of a multi-class model with `predict_proba` and `classes_`
    (scikit-learn's, XGBoost's), `names[code]` naming an encoded label's classes; None for any other model."""
    if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        return None
    probabilities = np.asarray(model.predict_proba(features))
    classes = list(model.classes_)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes) or len(classes) < 3:
        return None
    shown = [names[int(c)] if names is not None else c for c in classes]
    return pd.DataFrame(probabilities, columns=[f"{PROBABILITY_PREFIX}{c}" for c in shown])


def overrides_score(workflow_cls: type[Workflow]) -> bool:
    return workflow_cls.score is not Workflow.score


def import_workflow_modules(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise WorkflowNotFound(f"--workflow-module {name}: cannot import it: {exc}") from exc


def _package_sources(package) -> Iterator[tuple[str, Callable[[], str | None]]]:
    """Every module under the package, with a way to read its source without importing anything: on disk, each
    `.py` file, in folders with or without an `__init__.py` (namespace packages, which pkgutil does not enter);
    elsewhere (a zip), pkgutil's walk."""
    for root in package.__path__:
        if not os.path.isdir(root):
            for info in pkgutil.walk_packages([root], prefix=f"{package.__name__}."):
                yield info.name, lambda name=info.name: _source_by_spec(name)
            continue
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(d for d in subfolders if d.isidentifier())
            parts = [part for part in os.path.relpath(folder, root).split(os.sep) if part != "."]
            for file in sorted(f for f in files if f.endswith(".py") and f[:-3].isidentifier()):
                name = ".".join([package.__name__, *parts, *([] if file == "__init__.py" else [file[:-3]])])
                yield name, lambda path=os.path.join(folder, file): _read_text(path)


def _source_by_spec(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
        return spec.loader.get_source(name) if spec and spec.loader else None
    except (ImportError, OSError, ValueError):
        return None


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return None


def _modules_defining(class_name: str) -> list[str]:
    """The modules of the workflows package whose source defines the class at its top level; none is imported to
    find them (a file that does not parse defines nothing)."""
    try:
        package = importlib.import_module(WORKFLOW_PACKAGE)
    except ImportError:
        return []
    found = []
    for name, read in _package_sources(package):
        source = read()
        if not source or class_name not in source:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        if any(isinstance(node, ast.ClassDef) and node.name == class_name for node in tree.body):
            found.append(name)
    return found


def find_workflow(name: str) -> type[Workflow]:
    """The Workflow subclass called `name`."""
    if name not in Workflow.registry:
        for module in _modules_defining(name):
            importlib.import_module(module)
    cls = Workflow.registry.get(name)
    if cls is None:
        known = sorted(Workflow.registry) or ["(none imported)"]
        raise WorkflowNotFound(
            f"train.workflow_name: no workflow class named {name!r} in the {WORKFLOW_PACKAGE} package "
            f"or the --workflow-module modules; imported workflows: {', '.join(known)}"
        )
    return cls
