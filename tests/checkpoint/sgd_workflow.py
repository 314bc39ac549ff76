"""A workflow whose scikit-learn estimator learns epoch by epoch (`partial_fit`) in a loop that takes part in
checkpoints, as docs/workflows.md shows; its spec's `custom_params` set `epochs` and `seed`."""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from railyard import Workflow
from railyard.checkpoint.sklearn_state import restore_sklearn_state, sklearn_state


class SGDEpochsModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        features = training_dataframe[self.classifier_features]
        label = training_dataframe[self.classifier_label].astype(int).to_numpy()
        preprocess = ColumnTransformer([("numeric", StandardScaler(), ["charge_amount"]),
                                        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["charge_type"])]).fit(features)
        rows, classes = preprocess.transform(features), np.array([0, 1])
        epochs = self.custom_params["epochs"]
        model = SGDClassifier(loss="log_loss", random_state=self.custom_params["seed"])
        with self.checkpoints.loop(total=epochs) as loop:
            if loop.files:
                model = restore_sklearn_state(loop.files["model.pkl"])
            for epoch in range(loop.start, epochs):
                model.partial_fit(rows, label, classes=classes)
                self.progress.report(epoch + 1, epochs, training=log_loss(label, model.predict_proba(rows), labels=classes),
                                     metric="log_loss", unit="epoch")
                loop.done(epoch + 1, lambda: {"model.pkl": sklearn_state(model)})
        return Pipeline([("preprocess", preprocess), ("classifier", model)])
