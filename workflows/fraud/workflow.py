"""StripeFraudModel: the talk's example workflow, an XGBoost model in a scikit-learn Pipeline.

On a GPU run XGBoost trains with device="cuda" (a CUDA build of XGBoost is needed: see the README).
With `workers` > 1 each worker fits on its share of the rows inside XGBoost's collective, which
Railyard sets up around `train`; the code is the same.
"""

import xgboost
from sklearn.pipeline import Pipeline

from railyard import Workflow

# Objective names that XGBoost has since renamed.
OBJECTIVE_ALIASES = {"reg:linear": "reg:squarederror"}


class StripeFraudModel(Workflow):
    distributed = True
    engine = "xgboost"

    def train(self, training_dataframe, holdout_dataframe):
        params = {"tree_method": "hist", "enable_categorical": True, "device": self.device, **self.custom_params}
        params["objective"] = OBJECTIVE_ALIASES.get(params.get("objective"), params.get("objective", "reg:squarederror"))
        pipeline = Pipeline([("boosted", xgboost.XGBRegressor(**params))])
        features, label = self.classifier_features, self.classifier_label
        training = (training_dataframe[features], training_dataframe[label])
        holdout = (holdout_dataframe[features], holdout_dataframe[label])
        # Evaluated each round on a sample of both, so the progress and learning curve show training and holdout loss
        # at a small part of the fit's cost; the holdout metrics are computed on every holdout row afterwards.
        curve = [self.progress.curve_sample(*training), self.progress.curve_sample(*holdout)]
        return pipeline.fit(*training, boosted__eval_set=curve, boosted__verbose=False)
