"""The SVG primitives: well-formed XML, labelled for screen readers, and robust to empty, non-finite and hostile input."""

import math
import xml.etree.ElementTree as ET

import pytest

from railyard.report.svg import Axis, Band, Series, bar_chart, empty_chart, histogram_chart, line_chart, nice_ticks, number

NS = {"svg": "http://www.w3.org/2000/svg"}


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find("svg:title", NS).text
    return root


def legend_text(root: ET.Element) -> list[str]:
    legend = root.find(".//svg:g[@class='legend']", NS)
    return [t.text for t in legend.iter("{http://www.w3.org/2000/svg}text")] if legend is not None else []


def line_paths(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("fill") == "none" and p.get("stroke-width") == "2"]


def test_a_line_chart_has_title_axes_legend_and_series_that_differ_beyond_colour():
    root = parsed(line_chart("ROC curve", [Series("A", [(0, 0), (0.5, 0.8), (1, 1)], 0),
                                           Series("B", [(0, 0), (0.5, 0.6), (1, 1)], 1)],
                             x=Axis("False positive rate", (0, 1)), y=Axis("True positive rate", (0, 1))))
    assert root.find("svg:title", NS).text == "ROC curve"
    assert "ROC curve" in root.get("aria-label") and "A; B" in root.get("aria-label")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "False positive rate" in texts and "True positive rate" in texts and "0.6" in texts
    assert legend_text(root) == ["A", "B"]
    lines = line_paths(root)
    assert len(lines) == 2 and lines[0].get("stroke-dasharray") != lines[1].get("stroke-dasharray")
    shapes = {el.tag.split("}")[1] for g in root.findall(".//svg:g[@class='series']", NS) for el in g if el not in lines}
    assert {"circle", "rect"} <= shapes  # A's markers are circles, B's squares


@pytest.mark.parametrize("points", [[], [(math.nan, 1.0), (2.0, math.inf)], [(None, None)]])
def test_nothing_to_draw_says_no_data(points):
    root = parsed(line_chart("Empty", [Series("s", points)], x=Axis("x"), y=Axis("y")))
    assert "No data" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert not line_paths(root)


def test_non_finite_points_are_left_out_and_break_the_line():
    root = parsed(line_chart("Gaps", [Series("s", [(0, 1), (1, 2), (2, math.nan), (3, math.inf), (4, 3), (5, 4)])],
                             x=Axis("x"), y=Axis("y")))
    segments = [path.get("d") for path in line_paths(root)]
    assert len(segments) == 2 and all(d.count("L") == 1 for d in segments)
    assert not any(word in root_text for root_text in segments for word in ("nan", "inf"))


def test_one_point_or_a_flat_series_gets_a_usable_axis():
    for points in ([(3.0, 5.0)], [(0, 2.0), (1, 2.0), (2, 2.0)]):
        root = parsed(line_chart("Flat", [Series("s", points, markers="all")], x=Axis("x"), y=Axis("y")))
        series = root.find(".//svg:g[@class='series']", NS)
        assert len(series.findall("svg:circle", NS)) == len(points)
        ys = [float(c.get("cy")) for c in series.findall("svg:circle", NS)]
        assert all(36 < y < 300 for y in ys)  # inside the plot, not on its edge
        assert len(root.findall(".//svg:g[@class='axes']/svg:text", NS)) >= 6


def test_names_and_labels_are_escaped():
    hostile = '<script>alert("x")</script> & co'
    svg = bar_chart(hostile, [(hostile, 1.0), ("plain", 2.0)], value=Axis(hostile))
    root = parsed(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.find("svg:title", NS).text == hostile
    assert root.find(".//svg:script", NS) is None
    line = line_chart("t", [Series(hostile, [(0, 1), (1, 2)])], x=Axis('a"b'), y=Axis("c'd"))
    assert hostile in legend_text(parsed(line))


def test_bars_keep_their_order_and_non_finite_values_read_na():
    root = parsed(bar_chart("Time per step", [("load", 0.5), ("train", 3.0), ("broken", math.nan)], value=Axis("seconds"),
                            value_format=lambda v: f"{v:.2f} s"))
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    assert len(bars) == 2 and float(bars[1].get("width")) > 5 * float(bars[0].get("width"))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "0.50 s" in texts and "3.00 s" in texts and "n/a" in texts
    assert texts.index("load") < texts.index("train") < texts.index("broken")


def test_all_non_finite_bars_and_empty_histograms_say_no_data():
    for svg in (bar_chart("b", [("x", math.inf)], value=Axis("v")), bar_chart("b", [], value=Axis("v")),
                histogram_chart("h", [], [("s", [])], x=Axis("x"), y=Axis("y")),
                histogram_chart("h", [0, 1, math.nan], [("s", [1, 2])], x=Axis("x"), y=Axis("y"))):
        assert "No data" in [t.text for t in parsed(svg).iter("{http://www.w3.org/2000/svg}text")]


def test_histogram_overlays_series_with_different_dashes():
    root = parsed(histogram_chart("Scores", [0, 0.5, 1], [("negative", [0.8, 0.2]), ("positive", [0.3, math.nan])],
                                  x=Axis("score"), y=Axis("share")))
    groups = root.findall(".//svg:g[@class='series']", NS)
    assert [g.get("data-series") for g in groups] == ["negative", "positive"]
    outlines = [g.find("svg:path", NS) for g in groups]
    assert outlines[0].get("stroke-dasharray") != outlines[1].get("stroke-dasharray")
    assert legend_text(root) == ["negative", "positive"]


def test_bands_and_time_axes():
    day = 86400.0
    xs = [day * i for i in range(30)]
    root = parsed(line_chart("Forecast", [Series("forecast", [(x, 10 + i) for i, x in enumerate(xs)], 1)], x=Axis("Date", kind="time"),
                             y=Axis("Value"), bands=[Band("interval", xs, [8 + i for i in range(30)], [12 + i for i in range(30)], 1)]))
    assert root.find(".//svg:polygon", NS) is not None
    assert "1970-01-01" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert legend_text(root) == ["interval", "forecast"]


def test_ticks_and_numbers():
    assert nice_ticks(0, 1)[0] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 1000)[0][-1] == 1000
    assert number(0.74991) == "0.7499" and number(12345) == "12,345" and number(math.nan) == "n/a" and number(None) == "n/a"


def test_empty_chart_is_labelled():
    root = parsed(empty_chart("Nothing yet", "No progress reported"))
    assert "No progress reported" in root.get("aria-label")
