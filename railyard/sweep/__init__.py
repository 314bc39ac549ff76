"""Sweeps: a base spec, a search space over its fields, and the Optuna study that picks each trial's values."""
