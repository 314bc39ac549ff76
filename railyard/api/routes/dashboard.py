"""The dashboard: server-rendered HTML of the job list (like the talk's "Railyard in action"), job pages with
their charts, a model's retrains and two jobs side by side (many jobs: compare_many.py; a sweep: sweep_page.py).

A training job's page draws its feature importance from the newest complete explanation of its model
the principal may read; an explanation job's page draws its own.

Browsers sign in once with their token (see routes/signin.py); every page
shows only the jobs the principal may read, and the forms that change a job
carry the session's CSRF token. Charts are inline SVG drawn on the server
(railyard.report) from each job's small charts.json and result.json, read with
a size limit; these pages run no script. A page that shows a queued or running job loads itself again every
REFRESH_SECONDS (the job list every LIST_REFRESH_SECONDS; a meta refresh), with a running job's learning curve so far
(its progress.json).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from railyard.api.deps import JobPageDep, PagePrincipalDep, PartsDep, PrincipalDep, SessionDep, job_or_404
from railyard.api.problems import NotFound
from railyard.api.routes.jobs import ACTIONS, change, replay_of, result_file, status_of, summary_of
from railyard.api.store import service
from railyard.api.schemas import ShipEventOut, ShipPolicyOut
from railyard.api.store.models import Job
from railyard.errors import RailyardError
from railyard.launch.job import JobKind
from railyard.pipeline.progress_file import read_progress
from railyard.report import CHARTS_FILE
from railyard.report.charts import Figure, compare_figures, job_figures, metric_history_chart
from railyard.report import run_table
from railyard.report.spec_diff import compare_specs, shorten
from railyard.report.svg import finite, number
from railyard.result import parse_document
from railyard.run_layout import RESULT
from railyard.states import JobState
from railyard.storage import open_store

router = APIRouter(include_in_schema=False)
# Package data, read through importlib.resources: found in a pex or an installed wheel too.
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.PackageLoader("railyard.api", "templates"),
                                                   autoescape=jinja2.select_autoescape()))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


templates.env.filters["duration"] = duration
templates.env.filters["number"] = number
templates.env.filters["shorten"] = shorten
STATES = tuple(state.value for state in JobState)
KINDS = tuple(kind.value for kind in JobKind)
IMPORTANCE_FILE = "importance.json"  # an explanation's feature importance
MAX_OUTPUT_BYTES = 4 << 20  # the most a page reads of one chart or result file
MAX_RETRAINS = 100  # the newest retrains a model page shows
MAX_EXPLANATIONS = 20  # the newest explanations a training job's page lists
READERS = 8  # result files a model page reads at once
OUTPUT_LINKS = (("model artifact", "model_path"), ("scores", "evaluation_holdout_data_path"), ("labels", "evaluation_holdout_label_path"),
                ("report", "report"))  # where a complete job's outputs lie, as its result names them
MAX_CLASSES_SHOWN = 31  # a confusion matrix's rows and columns: charts.json's 30 classes and "(other)"
MAX_CLASS_CHARACTERS = 100
MAX_SHIP_EVENTS = 50  # the newest ships and unships a model page lists (GET /models/{name}/history has them all)
REFRESH_SECONDS = 5  # how often a page showing a queued or running job loads itself again (no script runs)
LIST_REFRESH_SECONDS = 30  # the job list's: slower, as a reload clears its filter boxes
ACTIVE_STATES = (JobState.queued.value, JobState.running.value)


def page(request: Request, principal, name: str, context: dict):
    signed_in = getattr(request.state, "session_id", None) is not None
    return templates.TemplateResponse(request, name, {
        **context, "principal": principal, "signed_in": signed_in, "csrf_token": getattr(request.state, "csrf_token", ""),
    })


@router.get("/", response_class=HTMLResponse)
def job_list(
    request: Request,
    session: SessionDep,
    principal: PagePrincipalDep,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    model_name: Annotated[str | None, Query(max_length=512)] = None,
    workflow: Annotated[str | None, Query(max_length=256)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    where = service.JobFilter(owner or None, None, model_name or None, workflow or None, state if state in STATES else None,
                              owners=principal.owners, kind=kind if kind in KINDS else None)
    try:
        jobs, following = service.list_jobs(session, where=where, limit=100, cursor=cursor)
    except (ValueError, TypeError):
        jobs, following = [], None
    session.commit()
    listed = [summary_of(j) for j in jobs]
    params = run_table.differing_params([j.custom_params for j in listed])
    return page(request, principal, "jobs.html", {
        "jobs": listed, "next_cursor": following, "states": STATES, "kinds": KINDS,
        "headlines": [run_table.headline(j.metrics) for j in listed], "params": params, "param_values": [run_table.param_values(j.custom_params, params) for j in listed],
        "refresh_seconds": LIST_REFRESH_SECONDS if not cursor and any(j.state in ACTIVE_STATES for j in jobs) else None,
        "filters": {"owner": owner or "", "model_name": model_name or "", "workflow": workflow or "", "state": state or "",
                    "kind": kind if kind in KINDS else ""},
    })


def confusion_view(charts: dict | None) -> dict | None:
    """charts.json's confusion matrix as table rows: each cell's count and its shade (0-5: its share of the row); None
    where it is absent or not of the documented shape."""
    confusion = (charts or {}).get("confusion")
    if not isinstance(confusion, dict) or not isinstance(confusion.get("classes"), list) or not isinstance(confusion.get("counts"), list):
        return None
    classes, rows = [str(c)[:MAX_CLASS_CHARACTERS] for c in confusion["classes"][:MAX_CLASSES_SHOWN]], []
    for name, counts in zip(classes, confusion["counts"]):
        counts = [int(c) if finite(c) and 0 <= c < 2**53 else 0 for c in counts[:MAX_CLASSES_SHOWN]] if isinstance(counts, list) else []
        total = sum(counts)
        rows.append({"actual": name, "cells": [{"count": c, "heat": round(5 * c / total) if total else 0} for c in counts]})
    listed = (charts or {}).get("per_class")
    per_class = [{"class": str(p.get("class"))[:MAX_CLASS_CHARACTERS], **{k: p.get(k) if finite(p.get(k)) else None
                                                                        for k in ("precision", "recall", "f1", "support")}}
                 for p in (listed if isinstance(listed, list) else [])[:MAX_CLASSES_SHOWN] if isinstance(p, dict)]
    return {"classes": classes, "rows": rows, "per_class": per_class}


def output_json(location: str, name: str) -> dict | None:
    """A JSON object of a job's output location, or None where it is missing, unreadable, over MAX_OUTPUT_BYTES or
    not an object."""
    try:
        data = open_store(location).read_range(name, 0, MAX_OUTPUT_BYTES + 1)
    except RailyardError:
        return None
    return parse_document(data) if len(data) <= MAX_OUTPUT_BYTES else None


def finished_result(job: Job) -> dict | None:
    """The `result` block of a complete job's result.json."""
    if job.state != JobState.complete.value:
        return None
    body = output_json(job.output, RESULT)
    return body.get("result") if isinstance(body, dict) and isinstance(body.get("result"), dict) else None


def shown(figures: list[Figure]) -> list[dict]:
    return [{"key": f.key, "svg": Markup(f.svg)} for f in figures]  # every value in the SVG is escaped by railyard.report.svg


def progress_view(progress: dict | None) -> dict | None:
    """A running job's progress.json as a bar: value and max (None when the total is unknown) and one line of text."""
    if not progress or not finite(progress.get("iteration")):
        return None
    iteration, total, unit = progress["iteration"], progress.get("total"), progress.get("unit") or "iteration"
    has_total = finite(total) and total > 0
    words = [f"{unit} {iteration:,.0f}" + (f" of {total:,.0f}" if has_total else "")]
    if finite(progress.get("elapsed_s")):
        words.append(f"{duration(progress['elapsed_s'])} elapsed")
    if finite(progress.get("remaining_s")):
        words.append(f"about {duration(progress['remaining_s'])} left")
    if progress.get("metric") and finite(progress.get("holdout")):
        words.append(f"holdout {progress['metric']} {number(progress['holdout'])}")
    return {"value": min(max(iteration, 0), total) if has_total else None, "max": total if has_total else None,
            "text": ", ".join(words)}


def importance_source(job: Job, explanations: list[Job]) -> Job | None:
    """Whose importance.json a job's page draws: an explanation job's own, else the newest complete explanation."""
    complete = JobState.complete.value
    if job.kind == JobKind.explanation.value:
        return job if job.state == complete else None
    return next((e for e in explanations if e.state == complete), None)


def importance_caption(source: Job, importance) -> dict:
    """Where a page's feature importance comes from: the explanation job, its rows and method."""
    document = importance if isinstance(importance, dict) else {}
    rows, method = document.get("rows"), document.get("method")
    return {"job_id": source.id, "rows": rows if finite(rows) else None, "method": method if isinstance(method, str) else None}


@router.get("/ui/job/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, session: SessionDep, principal: PagePrincipalDep, job: JobPageDep):
    """One job: its state, result and charts; a training job's explanations, an explanation job's model."""
    explanations = []
    if job.kind == JobKind.training.value and job.model_id:
        explanations = service.explanations_of(session, model_id=job.model_id, owners=principal.owners, limit=MAX_EXPLANATIONS)
    session.commit()  # no connection is held while output files are read
    body = result_file(job)
    complete = job.state == JobState.complete.value
    result = body.get("result") if complete and isinstance(body.get("result"), dict) else None
    charts = output_json(job.output, CHARTS_FILE) if complete and job.kind == JobKind.training.value else None
    source = importance_source(job, explanations)
    importance = output_json(source.output, IMPORTANCE_FILE) if source else None
    progress = read_progress(job.output) if job.state == JobState.running.value else None
    live = {"learning_curve": progress} if progress and progress["points"] else None  # the curve so far
    return page(request, principal, "job.html", {
        "job": summary_of(job), "status": status_of(job),
        "result": result,
        "exception_info": body.get("exception_info") or job.exception_info,
        "figures": shown(job_figures(charts, result or body.get("result") or live, importance)),
        "importance_from": importance_caption(source, importance) if importance is not None and source is not job else None,
        "explanations": [{"job": summary_of(e), "data": (e.explanation or {}).get("data")} for e in explanations],
        "explanations_limit": MAX_EXPLANATIONS,
        "progress": progress_view(progress),
        "steps": step_rows(result),
        "resumed": resumed_of(result or body.get("result")),
        "replay": replay_of(session, job, body),
        "refresh_seconds": REFRESH_SECONDS if job.state in ACTIVE_STATES else None,
        "spec": json.dumps(job.spec, indent=2, ensure_ascii=False) if job.spec else None,
        "confusion": confusion_view(charts),
        "outputs": {name: (result or {}).get(key)[:2048] for name, key in OUTPUT_LINKS if isinstance((result or {}).get(key), str)},
    })


def resumed_of(result: dict | None) -> dict | None:
    """Where a run's training resumed from ({"from_iteration": N, ...}), or None where it did not or does not say."""
    checkpoints = (result or {}).get("checkpoints")
    resumed = checkpoints.get("resumed") if isinstance(checkpoints, dict) else None
    return resumed if isinstance(resumed, dict) and isinstance(resumed.get("from_iteration"), int) else None


def metrics_of(result: dict | None) -> dict:
    """A result's metrics block, or {} where the job wrote none or not an object."""
    metrics = (result or {}).get("metrics")
    return metrics if isinstance(metrics, dict) else {}


def step_rows(result: dict | None) -> list[dict]:
    """A result's steps as the job page's table rows; a field of the wrong type is left blank."""
    steps = (result or {}).get("steps")
    rows = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        wall, peak = step.get("wall_seconds"), step.get("peak_memory_bytes")
        rows.append({"name": step.get("name") if isinstance(step.get("name"), str) else "",
                     "wall": f"{wall:.2f} s" if finite(wall) else "",
                     "rows_in": step.get("rows_in") if finite(step.get("rows_in")) else "",
                     "rows_out": step.get("rows_out") if finite(step.get("rows_out")) else "",
                     "peak": f"{round(peak / 1048576)} MiB" if finite(peak) else ""})
    return rows


@router.get("/ui/model/{model_name:path}", response_class=HTMLResponse)
def model_page(request: Request, session: SessionDep, principal: PagePrincipalDep, model_name: str):
    """Every retrain (training job) of one model name the principal may read, newest first, with its headline
    metric over time."""
    jobs: list[Job] = []
    events, policies = [], []
    if len(model_name) <= 512:
        where = service.JobFilter(model_name=model_name, owners=principal.owners, kind=JobKind.training.value)
        jobs, _ = service.list_jobs(session, where=where, limit=MAX_RETRAINS)
        events = [ShipEventOut.model_validate(e, from_attributes=True)
                  for e in service.ship_history(session, model_name=model_name, owners=principal.owners, limit=MAX_SHIP_EVENTS)]
        owners = sorted({job.owner for job in jobs})
        policies = [ShipPolicyOut.model_validate(p, from_attributes=True) for p in
                    (service.ship_policy(session, owner=o, model_name=model_name) for o in owners) if p is not None]
    session.commit()  # no connection is held while result files are read
    if not jobs:
        raise NotFound(f"no model {model_name}")
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        results = list(pool.map(finished_result, jobs))
    metric = next((name for name, _ in (run_table.headline(metrics_of(r)) for r in results) if name), None)
    retrains, older_complete = [], None
    for job, result in reversed(list(zip(jobs, results))):  # oldest first, to link each to the one before it
        value = metrics_of(result).get(metric) if metric else None
        retrains.append({"job": summary_of(job), "value": value, "compare_with": older_complete,
                         "training_rows": (result or {}).get("training_rows"), "holdout_rows": (result or {}).get("holdout_rows")})
        if result is not None:
            older_complete = job.id
    retrains.reverse()
    history = metric_history_chart(metric, [{"at": r["job"].created_at, "value": r["value"], "shipped": r["job"].shipped,
                                             "job_id": r["job"].job_id} for r in retrains]) if metric else None
    return page(request, principal, "model.html", {
        "model_name": model_name, "metric": metric, "retrains": retrains, "limit": MAX_RETRAINS,
        "ship_events": events, "ship_events_limit": MAX_SHIP_EVENTS, "ship_policies": policies,
        "figures": shown([Figure("metric-history", history)] if history else []),
    })


def metric_rows(a: dict | None, b: dict | None) -> list[dict]:
    metrics_a, metrics_b = metrics_of(a), metrics_of(b)
    rows = []
    for name in dict.fromkeys([*metrics_a, *metrics_b]):
        if name == "kind":
            continue
        va, vb = metrics_a.get(name), metrics_b.get(name)
        both = finite(va) and finite(vb)
        rows.append({"name": name, "a": va, "b": vb, "difference": vb - va if both else None})
    return rows


@router.get("/ui/compare", response_class=HTMLResponse)
def compare_page(request: Request, session: SessionDep, principal: PagePrincipalDep,
                 a: Annotated[str | None, Query(max_length=64)] = None, b: Annotated[str | None, Query(max_length=64)] = None,
                 job: Annotated[list[str], Query(description="up to 500 jobs (routes/compare_many.py)")] = ()):
    """Two jobs side by side (`a` and `b`): metrics, their curves overlaid (A and B drawn differently), and how their
    specs differ; or many (`job`, repeated), as routes/compare_many.py draws them."""
    if job or a is None or b is None:
        from railyard.api.routes import compare_many  # it draws with this module's readers

        return compare_many.render(request, session, principal, [j for j in job if len(j) <= 64] + [x for x in (a, b) if x])
    job_a, job_b = job_or_404(session, a, principal), job_or_404(session, b, principal)
    result_a, result_b = finished_result(job_a), finished_result(job_b)
    charts_a = output_json(job_a.output, CHARTS_FILE) if result_a else None
    charts_b = output_json(job_b.output, CHARTS_FILE) if result_b else None
    differences = compare_specs(job_a.spec, job_b.spec)
    return page(request, principal, "compare.html", {
        "a": summary_of(job_a), "b": summary_of(job_b), "metrics": metric_rows(result_a, result_b),
        "figures": shown(compare_figures((charts_a, result_a), (charts_b, result_b))),
        "differences": differences, "differing": sum(d.differs for d in differences),
    })


@router.post("/ui/job/{job_id}/{action}")
def job_action(action: str, session: SessionDep, principal: PrincipalDep, job: JobPageDep, parts: PartsDep):
    """The job page's buttons: cancel, ship, unship (the CSRF token was checked with the principal)."""
    if action in ACTIONS:
        change(action, job, session, principal, parts)
    return RedirectResponse(f"/ui/job/{job.id}", status_code=303)
