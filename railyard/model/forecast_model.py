"""A fitted Prophet model with the columns it forecasts from, as a model object."""

from __future__ import annotations

import pandas as pd


class ForecastModel:
    def __init__(self, model, date_column: str, regressors: list[str]):
        self.model = model
        self.date_column = date_column
        self.regressors = list(regressors)

    def frame(self, dataframe: pd.DataFrame) -> pd.DataFrame:
        """Prophet's input: `ds` (timezone-naive) and the regressors."""
        ds = pd.to_datetime(dataframe[self.date_column])
        if ds.dt.tz is not None:
            ds = ds.dt.tz_convert("UTC").dt.tz_localize(None)
        frame = pd.DataFrame({"ds": ds.to_numpy()})
        for name in self.regressors:
            frame[name] = dataframe[name].to_numpy(dtype=float)
        return frame

    def predict(self, dataframe: pd.DataFrame) -> pd.DataFrame:
        """yhat (the forecast) with its interval, one row per input row."""
        forecast = self.model.predict(self.frame(dataframe))
        return forecast[["yhat", "yhat_lower", "yhat_upper"]].reset_index(drop=True)
