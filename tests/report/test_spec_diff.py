"""Flattening specs and finding where two differ."""

from railyard.report.spec_diff import compare_specs, flatten, shorten


def test_flatten_joins_keys_and_indexes_lists_of_objects():
    spec = {"data": {"features": [{"names": ["a", "b"], "path": "x.parquet"}]}, "train": {"custom_params": {}, "label": "y"}}
    assert flatten(spec) == {"data.features[0].names": '["a", "b"]', "data.features[0].path": '"x.parquet"',
                             "train.custom_params": "{}", "train.label": '"y"'}


def test_differences_come_first_and_absent_keys_show():
    a = {"train": {"custom_params": {"n_estimators": 20, "max_depth": 6}, "label": "y"}}
    b = {"train": {"custom_params": {"n_estimators": 40, "max_depth": 6, "eta": 0.1}, "label": "y"}}
    rows = compare_specs(a, b)
    assert [(r.key, r.differs) for r in rows] == [
        ("train.custom_params.eta", True), ("train.custom_params.n_estimators", True),
        ("train.custom_params.max_depth", False), ("train.label", False)]
    assert rows[0].a is None and shorten(rows[0].a) == "(absent)" and rows[1].a == "20" and rows[1].b == "40"
    assert compare_specs({}, {}) == []


def test_long_values_are_shortened_for_the_page():
    value = "x" * 1000
    assert shorten(value).endswith("(1,000 characters)") and len(shorten(value)) < 300
