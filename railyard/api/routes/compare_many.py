"""Compare many: /ui/compare?job=ID&job=ID… with up to MAX_JOBS jobs: their holdout metrics in a sortable table,
their learning and ROC curves overlaid, and the spec values that differ among them.

Metrics come from the jobs table (recorded when each job ended); only the curves read the jobs' output files,
READERS at a time, each curve thinned so that a chart holds at most MAX_CHART_POINTS points (drawn on a canvas
past vega.CANVAS_ABOVE).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi import Request
from sqlalchemy import select

from railyard.api.routes.dashboard import CHARTS_FILE, READERS, finished_result, output_json, page
from railyard.api.routes.jobs import summary_of
from railyard.api.routes.sweep_page import embedded
from railyard.api.store.models import Job
from railyard.report import vega
from railyard.report.spec_diff import flatten
from railyard.report.svg import finite

MAX_JOBS = 500
MAX_CHART_POINTS = 10_000  # of one chart: what a browser draws, zoomable, well within a second
MAX_RUNS_WITH_TRAINING = 20  # past this many runs the learning curves show the holdout loss alone
MAX_METRIC_COLUMNS = 12
MAX_SPEC_COLUMNS = 20


def curves_of(job: Job, limit: int, sets: tuple[str, ...]) -> tuple[list[dict], list[dict]]:
    """A complete job's learning curve (of `sets`) and ROC curve as chart rows, each of at most `limit` points;
    empty where it has none."""
    result = finished_result(job)
    if result is None:
        return [], []
    charts = output_json(job.output, CHARTS_FILE) or {}
    roc = charts.get("roc") if isinstance(charts.get("roc"), dict) else {}
    fpr, tpr = roc.get("fpr"), roc.get("tpr")
    pairs = vega.thinned(list(zip(fpr, tpr)), limit) if isinstance(fpr, list) and isinstance(tpr, list) else []
    points = [{"fpr": vega.short(x), "tpr": vega.short(y)} for x, y in pairs if finite(x) and finite(y)]
    return vega.learning_curve_points(result.get("learning_curve"), limit, sets), points


def differing_spec_values(jobs: list[Job]) -> tuple[list[str], list[dict]]:
    """The spec keys whose values differ among the jobs (at most MAX_SPEC_COLUMNS), and each job's values of them."""
    flat = [flatten(job.spec or {}) for job in jobs]
    keys = sorted(set().union(*flat)) if flat else []
    differing = [key for key in keys if len({f.get(key) for f in flat}) > 1][:MAX_SPEC_COLUMNS]
    return differing, [{key: f.get(key) for key in differing} for f in flat]


def render(request: Request, session, principal, job_ids: list[str]):
    wanted = list(dict.fromkeys(job_ids))[:MAX_JOBS]
    query = select(Job).where(Job.id.in_(wanted))
    if principal.owners is not None:
        query = query.where(Job.owner.in_(principal.owners))
    found = {job.id: job for job in session.scalars(query)}
    session.commit()  # no connection is held while output files are read
    jobs = [found[job_id] for job_id in wanted if job_id in found]
    both = len(jobs) <= MAX_RUNS_WITH_TRAINING
    per_run, sets = max(20, MAX_CHART_POINTS // max(1, len(jobs))), ("holdout", "training") if both else ("holdout",)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        curves = list(pool.map(lambda job: curves_of(job, per_run // len(sets), sets), jobs))
    labels = [f"{job.id[:8]}" for job in jobs]
    learning = [{"label": label, "points": lc} for label, (lc, _) in zip(labels, curves) if lc]
    rocs = [{"label": label, "points": roc} for label, (_, roc) in zip(labels, curves) if roc]
    charts = []
    if learning:
        title = "Learning curves (holdout solid, training dashed)" if both else "Learning curves (holdout)"
        charts.append(("learning-curves", vega.curves(title, learning, x="iteration", y="loss", x_title="round", y_title="loss",
                                                      dashed_holdout=both)))
    if rocs:
        charts.append(("roc", vega.curves("ROC curves", rocs, x="fpr", y="tpr", x_title="false positive rate", y_title="true positive rate")))
    metric_names = list(dict.fromkeys(name for job in jobs for name in (job.metrics or {}) if name != "kind"))[:MAX_METRIC_COLUMNS]
    spec_keys, spec_values = differing_spec_values(jobs)
    return page(request, principal, "compare_many.html", {
        "rows": [{"job": summary_of(job), "spec": values} for job, values in zip(jobs, spec_values)],
        "missing": [job_id for job_id in wanted if job_id not in found], "metric_names": metric_names, "spec_keys": spec_keys,
        "charts": [{"key": key, "spec": embedded(spec)} for key, spec in charts], "limit": MAX_JOBS,
        "asked": len(job_ids)})
