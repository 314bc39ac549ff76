"""Replays: a training job run again with the same published binary and spec, and what came out differently.

A replay is queued like any job (its owner is the original's, its submitter the caller, its data checked
against the caller's data prefixes). Once both are complete, `compare` says "reproduced: same model id" or
names what differed among what each run recorded: the binary's sha256, the spec hash, every data file's
size and modification time, the libraries the trainer loaded; and how each holdout metric moved.
"""

from __future__ import annotations

from typing import Any

from railyard.api.store.models import Job
from railyard.states import JobState


def _block(document, *keys: str) -> dict:
    """document[k1][k2]... where each is an object; {} otherwise (result.json is written where the user's code runs)."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document if isinstance(document, dict) else {}


def _files(fingerprint: list | None) -> dict[str, dict]:
    return {f.get("path"): f for source in fingerprint or [] if isinstance(source, dict)
            for f in source.get("files") or [] if isinstance(f, dict)}


def data_differences(before: list | None, now: list | None) -> list[str]:
    """One line per data file that is new, gone, or changed size or modification time between two fingerprints."""
    if before is None or now is None:
        return [] if before == now else ["data: one of the runs recorded no data fingerprint"]
    old, new = _files(before), _files(now)
    lines = [f"data: {path} is new" for path in sorted(new.keys() - old.keys())]
    lines += [f"data: {path} is gone" for path in sorted(old.keys() - new.keys())]
    for path in sorted(old.keys() & new.keys()):
        changed = [f"{field} {old[path].get(field)} → {new[path].get(field)}" for field in ("size", "mtime")
                   if old[path].get(field) != new[path].get(field)]
        if changed:
            lines.append(f"data: {path} changed ({', '.join(changed)})")
    return lines


def library_differences(before: dict, now: dict) -> list[str]:
    return [f"library: {name} {before.get(name, 'absent')} → {now.get(name, 'absent')}"
            for name in sorted(map(str, before.keys() | now.keys())) if before.get(name) != now.get(name)]


def metric_differences(before: dict, now: dict) -> dict[str, dict]:
    numbers = {name for name in before.keys() & now.keys()
               if isinstance(before[name], (int, float)) and isinstance(now[name], (int, float))}
    return {name: {"before": before[name], "now": now[name], "difference": now[name] - before[name]}
            for name in sorted(numbers) if before[name] != now[name]}


def compare(original: Job, replay: Job, original_result: dict, replay_result: dict) -> dict[str, Any]:
    """The replay's verdict: `reproduced` (None until both runs are complete), a one-line `summary`, the
    `differences` found, and the holdout metrics that moved."""
    verdict: dict[str, Any] = {"replays_job_id": original.id, "reproduced": None, "model_id_before": original.model_id,
                               "model_id_now": replay.model_id, "differences": [], "metrics": {}}
    if original.state != JobState.complete.value or replay.state != JobState.complete.value:
        verdict["summary"] = f"not compared: job {original.id} is {original.state}, the replay {replay.state}"
        return verdict
    differences = []
    if original.binary_sha256 != replay.binary_sha256:
        differences.append(f"binary: sha256 {original.binary_sha256} → {replay.binary_sha256}")
    if original.spec_hash != replay.spec_hash:
        differences.append(f"spec: hash {original.spec_hash} → {replay.spec_hash}")
    differences += data_differences(original.data_fingerprint, replay.data_fingerprint)
    differences += library_differences(_block(original_result, "status", "libraries"), _block(replay_result, "status", "libraries"))
    metrics = metric_differences(_block(original_result, "result", "metrics"), _block(replay_result, "result", "metrics"))
    reproduced = bool(original.model_id) and original.model_id == replay.model_id
    if reproduced:
        summary = f"reproduced: same model id {replay.model_id}"
    else:
        why = "; ".join(differences) or ("nothing this service records differs (binary, spec, data, libraries): "
                                          "the training is not deterministic")
        moved = ", ".join(f"{name} {m['before']:.4g} → {m['now']:.4g}" for name, m in metrics.items())
        summary = f"not reproduced: model {original.model_id} → {replay.model_id}; {why}" + (f"; {moved}" if moved else "")
    verdict.update(reproduced=reproduced, summary=summary, differences=differences, metrics=metrics)
    return verdict
