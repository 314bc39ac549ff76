"""A workflow whose model is a scikit-learn Pipeline ending in a random forest, for the explanation tests.

Tests pass `--workflow-module tests.explain.tree_models` to the trainer.
"""

from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from railyard import Workflow


class ForestInPipeline(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        forest = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0, n_jobs=1)
        pipeline = Pipeline([("impute", SimpleImputer(strategy="median")), ("forest", forest)])
        return pipeline.fit(training_dataframe[self.classifier_features], training_dataframe[self.classifier_label])
