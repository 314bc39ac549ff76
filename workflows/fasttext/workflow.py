"""FastTextClassifier: a fastText supervised classifier over text columns.

The `classifier_features` are text columns, joined with spaces; `custom_params`
go to `fasttext.train_supervised` (epoch, lr, wordNgrams, dim, loss, ...). A
two-valued label (0/1, booleans, or any two values with `train.positive_label`)
is scored as P(1), so it gets ROC AUC; more classes (a string label arrives as
class codes) are scored with the predicted class, which Railyard reads back as
the class name.
"""

import os
import tempfile

import fasttext

from railyard import Workflow
from railyard.model.fasttext_model import LABEL_PREFIX, FastTextModel, texts


class FastTextClassifier(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        labels = training_dataframe[self.classifier_label]
        classes = sorted(labels.unique().tolist(), key=str)
        params = {"epoch": 10, "lr": 0.5, "wordNgrams": 2, "dim": 50, "verbose": 0, "seed": 0, "thread": 1, **self.custom_params}
        lines = [f"{LABEL_PREFIX}{label} {text}" for label, text in zip(labels, texts(training_dataframe, self.classifier_features))]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "train.txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            model = fasttext.train_supervised(input=path, **params)
        return FastTextModel(model, self.classifier_features, [c.item() if hasattr(c, "item") else c for c in classes])
