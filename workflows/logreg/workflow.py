"""LogisticRegressionModel: impute, one-hot, scale, then scikit-learn's LogisticRegression.

Category columns are one-hot encoded (missing values and unseen categories get
no column), numeric columns are median-imputed and standardized;
`custom_params` go to LogisticRegression.
"""

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from railyard import Workflow


def is_categorical(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series)


class LogisticRegressionModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        features = training_dataframe[self.classifier_features]
        categorical = [c for c in features.columns if is_categorical(features[c])]
        numeric = [c for c in features.columns if c not in categorical]
        preprocess = ColumnTransformer(
            [
                ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        )
        params = {"max_iter": 1000, **self.custom_params}
        pipeline = Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(**params))])
        return pipeline.fit(features, training_dataframe[self.classifier_label])
