"""Distributed training: one job's N workers, how they find each other and what they share.

Every worker runs the same trainer command; only its environment differs (`env.py`). XGBoost
workflows train inside XGBoost's collective (`xgboost_collective.py`); rank 0 gathers what the
others hold (`gather.py`), evaluates and writes the job's outputs.
"""
