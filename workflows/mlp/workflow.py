"""TabularMLPModel: a PyTorch multilayer perceptron on tabular features.

Numeric columns are standardized (missing values become the training mean),
category columns one-hot encoded with a slot for unseen values. A binary label
is fit with a logistic loss and scored as P(label=1); any other label is
fit as a regression. Each epoch's training and holdout loss go to `self.progress`.
`custom_params`: hidden_sizes (default [64, 32]), epochs (5), learning_rate
(0.001), batch_size (1024), seed (0). Runs on CUDA when compute_resource is GPU
(Railyard has checked that a CUDA device is visible).

In a job of several workers (`distributed`) Railyard runs `train` inside the
job's torch.distributed group and gives each worker its share of the rows: the
workers agree on the scaling, vocabularies and label kind over all shares, the
module is wrapped in DistributedDataParallel, and each step of every worker
takes up to batch_size / world_size rows of its own share; each step's gradient
is the mean over the rows of all workers' batches, so every worker ends with the
same weights (rank 0's model is the job's).

The epochs take part in the run's checkpoints (`self.checkpoints`): after each, the
runtime may save the module, the optimizer, the shuffling generator and the random
states, and a run that was pre-empted or killed resumes at the epoch it saved, to
the very weights an uninterrupted run ends with (on the CPU).
"""

import math

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

from railyard import Workflow
from railyard.checkpoint.torch_state import restore_torch_state, torch_state


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


def _in_group() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _allgather(value) -> list:
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def _column_moments(stats: pd.DataFrame) -> tuple[list[float], list[float]]:
    """Means and standard deviations (ddof 1) of the numeric columns over every worker's rows."""
    if not _in_group():
        return stats.mean().fillna(0.0).tolist(), stats.std().fillna(1.0).replace(0.0, 1.0).tolist()
    counts, means = stats.count(), stats.mean().fillna(0.0)
    squares = ((stats - means) ** 2).sum()
    shares = _allgather((counts.to_numpy(), means.to_numpy(), squares.to_numpy()))
    n = sum(c for c, _, _ in shares)
    mean = sum(c * m for c, m, _ in shares) / np.maximum(n, 1)
    m2 = sum(q + c * (m - mean) ** 2 for c, m, q in shares)  # Chan et al.'s pairwise combination
    std = np.sqrt(m2 / np.maximum(n - 1, 1))
    mean, std = np.where(n > 0, mean, 0.0), np.where((n > 1) & (std > 0), std, 1.0)
    return mean.tolist(), std.tolist()


def _shared_vocabularies(categories: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each category column's values over every worker, in the order rank 0 has them, then rank 1's new ones..."""
    if not _in_group():
        return categories
    shares = _allgather(categories)
    return {c: list(dict.fromkeys(v for share in shares for v in share[c])) for c in categories}


def _label_is_binary(labels: pd.Series) -> bool:
    values = set(pd.unique(labels.astype("float64")))
    if _in_group():
        values = set().union(*_allgather(values))
    return values <= {0.0, 1.0}


def _summed(device, *values: float) -> list[float]:
    """Each value summed over the workers."""
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    if _in_group():
        dist.all_reduce(totals)
    return totals.tolist()


class TabularMLPModel(Workflow):
    distributed = True
    engine = "torch"

    def train(self, training_dataframe, holdout_dataframe):
        params = {"hidden_sizes": [64, 32], "epochs": 5, "learning_rate": 1e-3, "batch_size": 1024, "seed": 0, **self.custom_params}
        torch.manual_seed(params["seed"])
        features = training_dataframe[self.classifier_features]
        labels = training_dataframe[self.classifier_label]
        numeric = [c for c in features.columns if not _is_category(features[c])]
        categories = _shared_vocabularies({
            c: [str(v) for v in pd.Categorical(features[c]).categories] for c in features.columns if c not in numeric
        })
        means, stds = _column_moments(features[numeric].astype("float64"))
        binary = _label_is_binary(labels)
        model = TabularMLP(numeric, categories, means, stds, list(params["hidden_sizes"]), binary)

        device = torch.device(self.device)
        model.to(device)
        x = model.encode(features).to(device)
        y = torch.from_numpy(labels.to_numpy(dtype=np.float32)).to(device)
        holdout_x = model.encode(holdout_dataframe[self.classifier_features]).to(device)
        holdout_y = torch.from_numpy(holdout_dataframe[self.classifier_label].to_numpy(dtype=np.float32)).to(device)
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum") if binary else nn.MSELoss(reduction="sum")
        world_size = dist.get_world_size() if _in_group() else 1
        trained = nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
        optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
        generator = torch.Generator(device="cpu").manual_seed(params["seed"])
        batch_size = math.ceil(params["batch_size"] / world_size)
        shares = _allgather(len(y)) if world_size > 1 else [len(y)]
        steps = max(math.ceil(n / batch_size) for n in shares)
        rows = sum(shares)
        with self.checkpoints.loop(total=params["epochs"]) as loop:
            if loop.files:  # resumed: where the epoch it saved left everything
                restore_torch_state(loop.files["state.pt"], model=model, optimizer=optimizer, generator=generator)
            for epoch in range(loop.start, params["epochs"]):
                trained.train()
                order = torch.randperm(len(y), generator=generator).to(device)
                training_loss = torch.zeros((), device=device)
                for step in range(steps):
                    batch = order[step * batch_size : (step + 1) * batch_size]  # empty once this worker's share is used up
                    step_rows = sum(min(max(n - step * batch_size, 0), batch_size) for n in shares)
                    optimizer.zero_grad()
                    loss = loss_fn(trained(x[batch]), y[batch])
                    # DistributedDataParallel averages gradients over the workers: scaled so that the step's
                    # gradient is the mean over every worker's rows of this step.
                    (loss * (world_size / step_rows)).backward()
                    optimizer.step()
                    training_loss += loss.detach()
                trained.eval()
                with torch.no_grad():
                    holdout_loss = loss_fn(model(holdout_x), holdout_y).item()
                training_total, holdout_total, holdout_rows = _summed(device, training_loss.item(), holdout_loss, len(holdout_y))
                self.progress.report(epoch + 1, params["epochs"], training=training_total / max(rows, 1),
                                     holdout=holdout_total / max(holdout_rows, 1), metric="log_loss" if binary else "mse",
                                     unit="epoch")
                loop.done(epoch + 1, lambda: {"state.pt": torch_state(model=model, optimizer=optimizer, generator=generator)})
        return model.cpu().eval()
