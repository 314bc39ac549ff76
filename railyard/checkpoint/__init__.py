"""Checkpoints of a run's training loop, and resuming from them.

The runtime writes them by itself for the libraries it knows (XGBoost:
`railyard.checkpoint.xgboost_loop`), under the run's output as
`checkpoints/<iteration>.ckpt`, one object each, written whole or not at all,
the newest two kept. Each records the run's identity (`RunIdentity`): the same
trainer, spec and data, on as many workers. Running the same trainer with the
same --spec and --output (what a retry does) resumes from the newest checkpoint
of the same identity; any other is never used. SIGTERM while a loop checkpoints
means "checkpoint now": at the next iteration boundary the loop writes one and
the trainer exits 75 (`railyard.checkpoint.preemption`).
"""

from railyard.checkpoint.identity import RunIdentity
from railyard.checkpoint.store import Checkpoint, Checkpoints, Schedule

__all__ = ["Checkpoint", "Checkpoints", "RunIdentity", "Schedule"]
