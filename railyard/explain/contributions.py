"""Per-row contributions of each feature to a model's output, by the exactest method the model allows.

  * XGBoost (a bare estimator or Booster, or a scikit-learn Pipeline ending in
    one): XGBoost's own exact TreeSHAP, `Booster.predict(pred_contribs=True)`,
    after the pipeline's preceding steps. It explains the raw margin
    (`output_margin=True`): contributions plus bias add up to it.
  * scikit-learn trees (decision trees, random forests, extra trees, gradient
    boosting, histogram gradient boosting on numeric features), bare or ending a Pipeline: shap's TreeExplainer on the raw tree
    output (path-dependent, no background needed).
  * everything else, and every model whose workflow scores it itself: shap's
    Permutation explainer on `Model.score`, the score `railyard predict`
    writes, against a background sample of the input's rows. Each column is
    one player, whatever its type (a text column of fastText included), so
    its contribution is that of the whole column.

The tree paths need the model to score with its estimator as saved
(`manifest["scoring"] == "default"`); otherwise what the workflow does to the
features before the trees is unknown, and the model-agnostic path is used.
shap is imported only on the paths that use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from railyard.errors import UserError
from railyard.model import Model

BACKGROUND_ROWS = 100
PERMUTATIONS = 10  # shap's own default for its Permutation explainer
AGNOSTIC_DEFAULT_ROWS = 1_000  # explained without --rows, where each row costs thousands of model calls
AGNOSTIC_BATCH_ROWS = 100  # a progress line at least this often
SEED = 0


class NotExplainable(UserError):
    """The model's output cannot be explained as one number per row."""


@dataclass
class Contributions:
    values: np.ndarray  # (rows, features)
    bias: np.ndarray  # (rows,): the expected output the contributions start from
    output: np.ndarray | None = None  # (rows,): what was explained, where it is cheap to know; values.sum(1) + bias


@dataclass
class Explainer:
    """What every method offers the job: the names of its columns, how it is described, and `explain`."""

    method: str
    explains: str
    features: list[str]
    parameters: dict = field(default_factory=dict)
    default_rows: int | None = None  # rows explained when --rows is not given; None: all
    batch_rows: int | None = None  # the most rows explained at once; None: --batch-rows

    def explain(self, frame: pd.DataFrame) -> Contributions:
        raise NotImplementedError


def _final_and_steps(estimator):
    """(the estimator that predicts, the Pipeline of the steps before it or None)."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 0:
        return estimator.steps[-1][1], (estimator[:-1] if len(estimator.steps) > 1 else None)
    return estimator, None


def _is_xgboost(estimator) -> bool:
    return type(estimator).__module__.split(".")[0] == "xgboost"


def _is_sklearn_tree(estimator) -> bool:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    trees = (BaseDecisionTree, RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
             GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    return isinstance(estimator, trees)


def _transform(steps, features: pd.DataFrame):
    if steps is None:
        return features
    transformed = steps.transform(features)
    return transformed.toarray() if hasattr(transformed, "toarray") else transformed


def _names(steps, model: Model, width: int, fallback: list[str] | None = None) -> list[str]:
    """Column names of what the final estimator reads: the model's features, or the preceding steps' output names."""
    if steps is None and width == len(model.features):
        return list(model.features)
    try:
        names = [str(n) for n in steps.get_feature_names_out()] if steps is not None else []
    except (AttributeError, ValueError, TypeError):
        names = []
    if len(names) == width:
        return names
    if fallback and len(fallback) == width:
        return list(fallback)
    return [f"x{i}" for i in range(width)]


def _one_output(values: np.ndarray, bias, model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Contributions to one output per row: a two-class output's positive class; more classes are refused."""
    bias = np.asarray(bias, dtype=np.float64)
    if values.ndim == 3:
        if values.shape[2] != 2:
            raise NotExplainable(f"--model {model.model_id}: it has one output per class ({values.shape[2]} classes); "
                                 "explanations need one number per row (a binary or regression model)")
        values, bias = values[:, :, 1], (bias[..., 1] if bias.ndim and bias.shape[-1] == 2 else bias)
    return np.asarray(values, dtype=np.float64), np.broadcast_to(bias, (values.shape[0],)).astype(np.float64)


class XGBoostContributions(Explainer):
    def __init__(self, model: Model, final, steps, sample: pd.DataFrame):
        import xgboost

        self.xgboost = xgboost
        self.model, self.steps = model, steps
        self.booster = final if isinstance(final, xgboost.Booster) else final.get_booster()
        try:
            self.iterations = (0, final.best_iteration + 1) if not isinstance(final, xgboost.Booster) else (0, 0)
        except AttributeError:  # trained without early stopping: every tree
            self.iterations = (0, 0)
        width = len(self.booster.feature_names or []) or _transform(steps, model.prepare(sample.head(1))).shape[1]
        super().__init__(
            method="xgboost_pred_contribs",
            explains="the raw margin, Booster.predict(output_margin=True)",
            features=_names(steps, model, width, self.booster.feature_names),
            parameters={"iteration_range": list(self.iterations)},
        )

    def explain(self, frame: pd.DataFrame) -> Contributions:
        x = _transform(self.steps, self.model.prepare(frame))
        if isinstance(x, pd.DataFrame):
            matrix = self.xgboost.DMatrix(x, enable_categorical=True)
        else:
            matrix = self.xgboost.DMatrix(x, feature_names=self.booster.feature_names, feature_types=self.booster.feature_types)
        contributions = self.booster.predict(matrix, pred_contribs=True, iteration_range=self.iterations)
        margin = self.booster.predict(matrix, output_margin=True, iteration_range=self.iterations)
        if contributions.ndim == 3:
            raise NotExplainable(f"--model {self.model.model_id}: it has one margin per class ({contributions.shape[1]} classes); "
                                 "explanations need one number per row (a binary or regression model)")
        return Contributions(contributions[:, :-1].astype(np.float64), contributions[:, -1].astype(np.float64),
                             np.asarray(margin, dtype=np.float64).reshape(-1))


class TreeContributions(Explainer):
    def __init__(self, model: Model, final, steps, sample: pd.DataFrame):
        import shap

        self.model, self.steps = model, steps
        self.tree_explainer = shap.TreeExplainer(final, feature_perturbation="tree_path_dependent")
        width = self._matrix(sample.head(1)).shape[1]
        super().__init__(
            method="shap_tree",
            explains=f"the raw output of {type(final).__name__} (shap TreeExplainer, model_output='raw')",
            features=_names(steps, model, width),
            parameters={"feature_perturbation": "tree_path_dependent", "shap": shap.__version__},
        )

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(_transform(self.steps, self.model.prepare(frame)), dtype=np.float64)

    def explain(self, frame: pd.DataFrame) -> Contributions:
        explanation = self.tree_explainer(self._matrix(frame))
        values, bias = _one_output(np.asarray(explanation.values), explanation.base_values, self.model)
        return Contributions(values, bias)


def scores(model: Model, frame: pd.DataFrame) -> np.ndarray:
    """`Model.score` as one float per row (a DataFrame's first column, as evaluated)."""
    scored = model.score(frame)
    if isinstance(scored, pd.DataFrame):
        scored = scored.iloc[:, 0]
    scored = np.asarray(scored).reshape(-1)
    if scored.dtype.kind not in "biuf":
        raise NotExplainable(f"--model {model.model_id}: its score is not a number ({scored.dtype}); "
                             "explanations need one number per row (a binary or regression model)")
    return scored.astype(np.float64)


class ScoreContributions(Explainer):
    """shap's Permutation explainer over whole columns of any type.

    shap masks numeric matrices, so each cell is handed to it as the position
    of a row in (background + explained rows) and read back from there before
    scoring: a masked cell takes a background row's value of that column.
    """

    def __init__(self, model: Model, background: pd.DataFrame):
        import shap

        self.shap, self.model = shap, model
        self.background = background[model.features].reset_index(drop=True)
        width = len(model.features)
        self.max_evals = PERMUTATIONS * (2 * width + 1)
        super().__init__(
            method="shap_permutation",
            explains="the model's score, Model.score (what railyard predict writes)",
            features=list(model.features),
            parameters={"background_rows": len(self.background), "permutations": PERMUTATIONS, "max_evals": self.max_evals,
                        "seed": SEED, "shap": shap.__version__},
            default_rows=AGNOSTIC_DEFAULT_ROWS,
            batch_rows=AGNOSTIC_BATCH_ROWS,
        )

    def explain(self, frame: pd.DataFrame) -> Contributions:
        rows = frame[self.model.features].reset_index(drop=True)
        combined = pd.concat([self.background, rows], ignore_index=True)
        n_background, width = len(self.background), rows.shape[1]

        def score(positions: np.ndarray) -> np.ndarray:
            positions = positions.astype(np.int64)
            masked = pd.DataFrame({name: combined[name].take(positions[:, j]).reset_index(drop=True)
                                   for j, name in enumerate(self.model.features)})
            return scores(self.model, masked)

        background_positions = np.repeat(np.arange(n_background, dtype=np.float64)[:, None], width, axis=1)
        row_positions = np.repeat(np.arange(n_background, len(combined), dtype=np.float64)[:, None], width, axis=1)
        masker = self.shap.maskers.Independent(background_positions, max_samples=n_background)
        explainer = self.shap.PermutationExplainer(score, masker, seed=SEED)
        explanation = explainer(row_positions, max_evals=self.max_evals, silent=True)
        values, bias = _one_output(np.asarray(explanation.values), explanation.base_values, self.model)
        return Contributions(values, bias, score(row_positions))


def check_explainable(model: Model) -> None:
    encoding = model.label_encoding
    if encoding is not None and not encoding.binary:
        raise NotExplainable(f"--model {model.model_id}: it predicts one of {len(encoding.classes)} classes of {model.label}; "
                             "explanations need one number per row (a binary or regression model)")


def _numeric(model: Model, steps, sample: pd.DataFrame) -> bool:
    try:
        np.asarray(_transform(steps, model.prepare(sample)), dtype=np.float64)
        return True
    except (TypeError, ValueError):
        return False


def explainer_for(model: Model, background: pd.DataFrame) -> Explainer:
    """The method for `model`; `background` is a sample of the input's rows (the model-agnostic path's baseline)."""
    check_explainable(model)
    final, steps = _final_and_steps(model.estimator)
    if model.manifest.get("scoring") == "default":
        if _is_xgboost(final):
            return XGBoostContributions(model, final, steps, background)
        if _is_sklearn_tree(final) and _numeric(model, steps, background.head(5)):
            return TreeContributions(model, final, steps, background)
    return ScoreContributions(model, background)
