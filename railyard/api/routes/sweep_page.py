"""The sweep page (/ui/sweep/{id}): its best-so-far, its parameters against its metric in parallel coordinates,
its trials' learning curves overlaid, and a table of its trials sortable by any column, pruned and failed trials
included; "Ship the best" ships the best trial's model through the ship gate.

Charts are Vega-Lite (railyard.report.vega), drawn in the browser by the vendored vega-embed.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy import select

from railyard.api.deps import PagePrincipalDep, PartsDep, PrincipalDep, SessionDep
from railyard.api.problems import Conflict, Forbidden
from railyard.api.routes.dashboard import READERS, finished_result, page
from railyard.api.routes.jobs import ship_job
from railyard.api.routes.sweeps import readable_sweep, sweep_out
from railyard.api.store.models import Job
from railyard.pipeline.progress_file import read_progress
from railyard.report import vega
from railyard.states import JobState

router = APIRouter(include_in_schema=False)
MAX_CURVES = 200  # trials whose learning curves the page overlays: the newest
MAX_DRAWN = 1000  # trials the best-so-far and parallel coordinates draw: the newest (the table lists every one)


def embedded(spec: dict) -> Markup:
    """A chart's spec as the text of a <script type="application/json">: no `<`, `>` or `&` can end the element."""
    return Markup(json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def trial_curve(job: Job) -> list[dict]:
    """A trial's learning curve: a complete one's from its result, else what its progress file reached."""
    result = finished_result(job)
    return vega.learning_curve_points(result.get("learning_curve") if result else read_progress(job.output))


def render(request: Request, session, principal, sweep_id: str, verdict: str | None = None, status_code: int = 200):
    sweep = readable_sweep(session, principal, sweep_id)
    out = sweep_out(session, sweep)
    curve_columns = select(Job.trial_number, Job.state, Job.output)  # what trial_curve reads, as plain rows
    jobs = session.execute(curve_columns.where(Job.sweep_id == sweep.id).order_by(Job.trial_number.desc()).limit(MAX_CURVES)).all()
    session.commit()  # no connection is held while output files are read
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        curves = list(pool.map(trial_curve, [j for j in jobs if j.state != JobState.queued.value]))
    trials = [{"number": t.number, "value": t.value, "state": t.job_state, "values": t.values} for t in out.trial_jobs[-MAX_DRAWN:]]
    runs = [{"label": f"trial {job.trial_number}", "points": points}
            for job, points in zip([j for j in jobs if j.state != JobState.queued.value], curves) if points]
    charts = []
    if trials:
        charts += [("best-so-far", vega.best_so_far(trials, sweep.metric, sweep.direction)),
                   ("parallel-coordinates", vega.parallel_coordinates(trials, list(sweep.space), sweep.metric))]
    if runs:
        charts.append(("learning-curves", vega.curves("Learning curves (holdout solid, training dashed)", runs, x="iteration", y="loss",
                                                      x_title="round", y_title="loss", dashed_holdout=True)))
    response = page(request, principal, "sweep.html", {
        "sweep": out, "paths": list(sweep.space), "short": {p: p.removeprefix("train.custom_params.") for p in sweep.space},
        "charts": [{"key": key, "spec": embedded(spec)} for key, spec in charts], "verdict": verdict,
        "refresh_seconds": None})
    response.status_code = status_code
    return response


@router.get("/ui/sweep/{sweep_id}", response_class=HTMLResponse)
def sweep_page(request: Request, session: SessionDep, principal: PagePrincipalDep, sweep_id: str):
    return render(request, session, principal, sweep_id)


@router.post("/ui/sweep/{sweep_id}/ship-best")
def ship_best(request: Request, session: SessionDep, principal: PrincipalDep, parts: PartsDep, sweep_id: str):
    """Ship the best trial's model through its ship gate; a refusal is shown on the page (409) with its verdict."""
    sweep = readable_sweep(session, principal, sweep_id)
    best = session.get(Job, sweep.best_job_id) if sweep.best_job_id else None
    if best is None:
        return render(request, session, principal, sweep_id, "no trial has completed yet", 409)
    try:
        ship_job(best, session, principal, None, parts.write_lock)
    except (Conflict, Forbidden) as exc:
        session.rollback()
        return render(request, session, principal, sweep_id, str(exc), exc.status)
    return RedirectResponse(f"/ui/sweep/{sweep_id}", status_code=303)
