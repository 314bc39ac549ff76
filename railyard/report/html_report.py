"""report.html: one self-contained page of a run (inline CSS and SVG, nothing fetched), written by the trainer.

It holds the job and model ids, the spec in brief, the holdout metrics and every chart of the job page.
The trainer writes it before result.json says complete. A report that cannot be made is logged and left
out (`result.report` is null): it never fails or hides the training result.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from html import escape

from railyard.report import CHARTS_FILE, REPORT_FILE
from railyard.report.charts import job_figures
from railyard.report.svg import number
from railyard.storage import Store

MAX_CHARTS_BYTES = 4 << 20
log = logging.getLogger(__name__)

CSS = """
body { font-family: system-ui, -apple-system, sans-serif; margin: 2rem; color: #1f2328; max-width: 1140px; }
h1 { margin-bottom: 0.2rem; } .sub { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9rem; margin-bottom: 1.2rem; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
code { font-size: 0.85rem; overflow-wrap: anywhere; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.charts figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.3rem; }
.charts svg { max-width: 100%; height: auto; }
"""


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(rows: list[tuple[str, str]], element_id: str) -> str:
    """rows: (header, cell HTML already escaped)."""
    body = "".join(f"<tr><th>{_e(name)}</th><td>{cell}</td></tr>" for name, cell in rows)
    return f'<table id="{element_id}">{body}</table>'


def _filter_text(item: dict) -> str:
    values = item.get("feature_value") or {}
    shown = next((v for v in values.values() if v is not None), None) if isinstance(values, dict) else None
    if isinstance(shown, list) and len(shown) > 8:
        shown = [*shown[:8], f"… {len(shown) - 8} more"]
    return f"{item.get('feature_name')} {item.get('predicate')}" + (f" {json.dumps(shown, default=str)}" if shown is not None else "")


def spec_summary(spec: dict) -> list[tuple[str, str]]:
    """The spec in brief, as (name, escaped HTML) rows."""
    metadata, train, data = spec.get("metadata") or {}, spec.get("train") or {}, spec.get("data") or {}
    holdout = spec.get("holdout_sampling") or {}
    sampling = holdout.get("sampling_function")
    if holdout.get("date_range_sampling"):
        dates = holdout["date_range_sampling"]
        sampling = f"{sampling}: {dates.get('date_column')} from {dates.get('start_date')} to {dates.get('end_date')}"
    elif holdout.get("random_sampling"):
        sampling = f"{sampling}: fraction {holdout['random_sampling'].get('fraction')}"
    features = train.get("classifier_features") or []
    rows = [
        ("Description", _e(metadata.get("model_description"))),
        ("Owner / project", f"{_e(metadata.get('owner'))} / {_e(metadata.get('project'))}"),
        ("Workflow", f"{_e(train.get('workflow_name'))} on {_e(spec.get('compute_resource', 'CPU'))}"
                     + (f", {_e(spec['workers'])} workers" if (spec.get("workers") or 1) > 1 else "")),
        ("Label", f"<code>{_e(train.get('label'))}</code>"),
        (f"Features ({len(features)})", ", ".join(f"<code>{_e(f)}</code>" for f in features[:50])
         + (f" and {len(features) - 50} more" if len(features) > 50 else "")),
        ("Data", "<br>".join(f"<code>{_e(s.get('path'))}</code>" for s in data.get("features") or [])),
        ("Filters", "<br>".join(_e(_filter_text(f)) for f in spec.get("filters") or []) or "none"),
        ("Holdout", _e(sampling)),
        ("Custom params", f"<code>{_e(json.dumps(train.get('custom_params') or {}, default=str))}</code>"),
    ]
    return rows


def render_report(*, job_id: str, spec: dict, result: dict, charts: dict | None, build: dict | None = None,
                  importance=None, written_at: dt.datetime | None = None) -> str:
    """The whole page as a string; every value from the spec, the result and the charts is escaped."""
    metadata = spec.get("metadata") or {}
    name = metadata.get("model_name") or "model"
    build = build or {}
    written_at = written_at or dt.datetime.now(dt.timezone.utc)
    commit = build.get("git_commit") or ""
    job_rows = [
        ("Job", f"<code>{_e(job_id)}</code>"),
        ("Model", f"<code>{_e(result.get('model_id'))}</code>"),
        ("Git commit", f"<code>{_e(commit)}</code>" + (" (uncommitted changes)" if build.get("git_dirty") else "")),
        ("Rows", f"{_e(number(result.get('training_rows')))} training, {_e(number(result.get('holdout_rows')))} holdout"),
        ("Device", _e(result.get("device"))),
    ]
    metrics = result.get("metrics") or {}
    metric_rows = [(key, _e(number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value))
                   for key, value in metrics.items() if value is not None and key != "kind"]
    figures = job_figures(charts, result, importance)
    chart_html = "".join(f'<figure id="chart-{f.key}">{f.svg}</figure>' for f in figures)
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(name)} · Railyard report</title>'
        f"<style>{CSS}</style></head><body>"
        f"<h1>{_e(name)}</h1>"
        f'<p class="sub">Railyard training report, written {_e(written_at.strftime("%Y-%m-%d %H:%M:%S UTC"))}</p>'
        f"{_table(job_rows, 'job')}"
        f"<h2>Spec</h2>{_table(spec_summary(spec), 'spec')}"
        f"<h2>Holdout metrics ({_e(metrics.get('kind', ''))})</h2>{_table(metric_rows, 'metrics')}"
        f'<h2>Charts</h2><div class="charts" id="charts">{chart_html}</div>'
        "</body></html>\n"
    )


def write_report(store: Store, *, job_id: str, spec: dict, result: dict, build: dict | None = None, importance=None) -> str | None:
    """Write report.html beside result.json; its URL, or None (logged) when it could not be made."""
    try:
        charts = None
        if result.get("charts"):
            raw = store.read_range(CHARTS_FILE, 0, MAX_CHARTS_BYTES + 1)
            charts = json.loads(raw) if len(raw) <= MAX_CHARTS_BYTES else None
        page = render_report(job_id=job_id, spec=spec, result=result, charts=charts, build=build, importance=importance)
        return store.write_text(REPORT_FILE, page)
    except Exception as exc:  # noqa: BLE001 - the report is a view of the result; the run goes on without it
        log.warning(f"[railyard] warning: report.html was not written: {type(exc).__name__}: {exc}")
        return None
