"""TabularMLPModel: a PyTorch multilayer perceptron on tabular features.

Numeric columns are standardized (missing values become the training mean),
category columns one-hot encoded with a slot for unseen values. A binary label
is fit with a logistic loss and scored as P(label=1); any other label is
fit as a regression. Each epoch's training and holdout loss go to `self.progress`.
`custom_params`: hidden_sizes (default [64, 32]), epochs (5), learning_rate
(0.001), batch_size (1024), seed (0). Runs on CUDA when compute_resource is GPU
(Railyard has checked that a CUDA device is visible).
"""

import numpy as np
import pandas as pd
import torch
from torch import nn

from railyard import Workflow


class TabularMLP(nn.Module):
    def __init__(self, numeric, categories, means, stds, hidden_sizes, binary):
        super().__init__()
        self.config = dict(
            numeric=numeric, categories=categories, means=means, stds=stds, hidden_sizes=hidden_sizes, binary=binary
        )
        width = len(numeric) + sum(len(v) + 1 for v in categories.values())
        layers = []
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.network = nn.Sequential(*layers)

    def encode(self, dataframe: pd.DataFrame) -> torch.Tensor:
        c = self.config
        parts = []
        if c["numeric"]:
            values = dataframe[c["numeric"]].to_numpy(dtype=np.float32, na_value=np.nan)
            values = (values - np.float32(c["means"])) / np.float32(c["stds"])
            parts.append(np.nan_to_num(values, nan=0.0))
        for name, vocabulary in c["categories"].items():
            codes = pd.Index(vocabulary).get_indexer(dataframe[name].astype(str).to_numpy(dtype=object))
            codes = np.where(codes < 0, len(vocabulary), codes)  # unseen and missing values share the last slot
            parts.append(np.eye(len(vocabulary) + 1, dtype=np.float32)[codes])
        return torch.from_numpy(np.hstack(parts).astype(np.float32))

    def forward(self, x):
        return self.network(x).squeeze(-1)

    @torch.no_grad()
    def predict(self, dataframe: pd.DataFrame) -> np.ndarray:
        self.eval()
        device = next(self.parameters()).device
        outputs = self(self.encode(dataframe).to(device))
        if self.config["binary"]:
            outputs = torch.sigmoid(outputs)
        return outputs.cpu().numpy()


def _is_category(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series)


class TabularMLPModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        params = {"hidden_sizes": [64, 32], "epochs": 5, "learning_rate": 1e-3, "batch_size": 1024, "seed": 0, **self.custom_params}
        torch.manual_seed(params["seed"])
        features = training_dataframe[self.classifier_features]
        labels = training_dataframe[self.classifier_label]
        numeric = [c for c in features.columns if not _is_category(features[c])]
        categories = {
            c: [str(v) for v in pd.Categorical(features[c]).categories] for c in features.columns if c not in numeric
        }
        stats = features[numeric].astype("float64")
        means = stats.mean().fillna(0.0).tolist()
        stds = stats.std().fillna(1.0).replace(0.0, 1.0).tolist()
        binary = set(pd.unique(labels.astype("float64"))) <= {0.0, 1.0}
        model = TabularMLP(numeric, categories, means, stds, list(params["hidden_sizes"]), binary)

        device = torch.device(self.device)
        model.to(device)
        x = model.encode(features).to(device)
        y = torch.from_numpy(labels.to_numpy(dtype=np.float32)).to(device)
        holdout_x = model.encode(holdout_dataframe[self.classifier_features]).to(device)
        holdout_y = torch.from_numpy(holdout_dataframe[self.classifier_label].to_numpy(dtype=np.float32)).to(device)
        loss_fn = nn.BCEWithLogitsLoss() if binary else nn.MSELoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
        generator = torch.Generator(device="cpu").manual_seed(params["seed"])
        for epoch in range(params["epochs"]):
            model.train()
            order = torch.randperm(len(y), generator=generator).to(device)
            training_loss = torch.zeros((), device=device)
            for start in range(0, len(y), params["batch_size"]):
                batch = order[start : start + params["batch_size"]]
                optimizer.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
                training_loss += loss.detach() * len(batch)
            model.eval()
            with torch.no_grad():
                holdout_loss = loss_fn(model(holdout_x), holdout_y).item()
            self.progress.report(epoch + 1, params["epochs"], training=training_loss.item() / len(y), holdout=holdout_loss,
                                 metric="log_loss" if binary else "mse", unit="epoch")
        return model.cpu().eval()
