"""CreditDefaultModel: who will not pay their credit card bill, from ISLR's `Default` data (`student`
Yes/No, `balance`, `income`; the label `default`, Yes/No).

The workflow that docs/workflows.md's "Adding a workflow" adds: columns of its own, a Yes/No label
that Railyard encodes (`train.positive_label`), and a smoke test that trains on `smoke.parquet`,
a sample of its data saved beside its spec.
"""

import xgboost

from railyard import Workflow


class CreditDefaultModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        params = {"n_estimators": 100, "max_depth": 3, "tree_method": "hist", "enable_categorical": True,
                  "device": self.device, **self.custom_params}
        model = xgboost.XGBClassifier(**params)
        return model.fit(training_dataframe[self.classifier_features], training_dataframe[self.classifier_label])
