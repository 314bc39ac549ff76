"""Pictures of a run: the chart data the trainer computes (charts.json), inline SVG charts drawn from it,
and report.html, a self-contained page the trainer writes beside result.json. The dashboard draws the
same charts with the same functions.

Nothing here needs a browser, JavaScript or a plotting library; only `chart_data` needs NumPy.
"""

CHARTS_FILE = "charts.json"
REPORT_FILE = "report.html"
