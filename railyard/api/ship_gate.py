"""The ship gate: whether a challenger may replace its model's shipped champion, under the model's ship policy.

A policy belongs to an owner's model (owner, model name) and is set by that owner or an admin, never by the spec of
the job being judged. The champion is the owner's most recently shipped job of that model still shipped. The
challenger ships when its holdout metric beats the champion's by at least `min_gain` in the policy's direction; with
`same_holdout` (the default) both must have been judged on the same holdout: the same data fingerprint and the same
data, filters, holdout sampling and label in their specs. Otherwise the ship is refused (409) unless whoever may
override gives a reason: an admin, or the owner where the policy says `owner_may_override`.

Every verdict is kept in the model's ship history, refusals included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from railyard.api.store.models import Job, ShipPolicy
from railyard.report.svg import finite


class ShipAction(str, enum.Enum):
    ship = "ship"
    unship = "unship"
    refused = "refused"


class Direction(str, enum.Enum):
    maximize = "maximize"
    minimize = "minimize"


MAX_REASON_CHARS = 2000  # an override's reason
HOLDOUT_BLOCKS = ("data", "filters", "holdout_sampling")  # with train.label and train.positive_label


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    text: str
    champion_job_id: str | None = None


def holdout_differences(champion: Job, challenger: Job) -> list[str]:
    """What differs between the holdouts the two jobs were judged on; [] when they are the same."""
    if not champion.data_fingerprint or champion.data_fingerprint != challenger.data_fingerprint:
        return ["data fingerprint"]
    spec_a, spec_b = champion.spec or {}, challenger.spec or {}
    differing = [block for block in HOLDOUT_BLOCKS if spec_a.get(block) != spec_b.get(block)]
    train_a, train_b = spec_a.get("train") or {}, spec_b.get("train") or {}
    return differing + [f"train.{key}" for key in ("label", "positive_label") if train_a.get(key) != train_b.get(key)]


def metric_value(job: Job, metric: str) -> float | None:
    value = (job.metrics or {}).get(metric)
    return float(value) if finite(value) else None


def judge(policy: ShipPolicy, challenger: Job, champion: Job | None) -> Verdict:
    """The gate's verdict on shipping `challenger` while `champion` is shipped, in one line naming the metric and
    both values."""
    metric = policy.metric
    value = metric_value(challenger, metric)
    if value is None:
        return Verdict(False, f"job {challenger.id} recorded no {metric}, the metric of this model's ship policy")
    if champion is None:
        return Verdict(True, f"{metric} {value:.6g}: no champion is shipped")
    if champion.id == challenger.id:
        return Verdict(True, f"{metric} {value:.6g}: already the champion", champion.id)
    differences = holdout_differences(champion, challenger) if policy.same_holdout else []
    if differences:
        return Verdict(False, f"job {challenger.id} was not judged on the holdout of the champion, job {champion.id} "
                              f"({', '.join(differences)} differ)", champion.id)
    best = metric_value(champion, metric)
    if best is None:
        return Verdict(True, f"{metric} {value:.6g}: the champion, job {champion.id}, recorded no {metric}", champion.id)
    gain = value - best if policy.direction == Direction.maximize.value else best - value
    if gain >= policy.min_gain:
        return Verdict(True, f"{metric} {value:.6g} beats the champion's {best:.6g} (job {champion.id}) by "
                             f"{abs(value - best):.6g}, at least {policy.min_gain:g}", champion.id)
    better = "higher" if policy.direction == Direction.maximize.value else "lower"
    return Verdict(False, f"{metric} {value:.6g} of job {challenger.id} does not beat the champion's {best:.6g} "
                          f"(job {champion.id}): it must be {better} by at least {policy.min_gain:g}", champion.id)
