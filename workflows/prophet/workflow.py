"""ProphetForecast: a Prophet time-series forecast.

`data.date_column` is Prophet's `ds`, the label its `y`, and the
`classifier_features` are extra regressors (none for a univariate forecast:
the list may be empty); `custom_params` go to
`Prophet(...)`. The DATE_RANGE holdout is the forecast horizon; scores.tsv
holds the forecast with its interval.
"""

from prophet import Prophet

from railyard import Workflow
from railyard.model.forecast_model import ForecastModel


class ProphetForecast(Workflow):
    requires_features = False
    min_training_examples = 24  # two years of a monthly series, such as AirPassengers' 144 months

    def feature_columns(self) -> list[str]:
        return [self.date_column, *[c for c in self.classifier_features if c != self.date_column]]

    def train(self, training_dataframe, holdout_dataframe):
        if not self.date_column:
            raise ValueError("ProphetForecast needs data.date_column: it is the series' time axis")
        regressors = [c for c in self.classifier_features if c != self.date_column]
        model = Prophet(**self.custom_params)
        for name in regressors:
            model.add_regressor(name)
        wrapper = ForecastModel(model, self.date_column, regressors)
        history = wrapper.frame(training_dataframe)
        history["y"] = training_dataframe[self.classifier_label].to_numpy(dtype=float)
        model.fit(history)
        return wrapper
