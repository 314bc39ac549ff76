"""Labels are checked against the spec and encoded before training: a positive label of any type
becomes 1, a multi-class string label class codes, and a two-valued string label without a
positive label is refused naming the column, its values and the field to set."""

import pyarrow as pa
import pytest

from railyard.errors import DataError
from railyard.pipeline.labels import MAX_LABEL_CLASSES, encode_label, label_encoding
from railyard.spec import parse_spec
from tests.test_spec import TALK_REQUEST


def spec_with(**train):
    raw = {**TALK_REQUEST, "train": {**TALK_REQUEST["train"], "label": "y", **train}}
    return parse_spec(raw)


def table_of(*chunks) -> pa.Table:
    return pa.table({"y": pa.chunked_array(chunks)})


def codes(table: pa.Table, encoding) -> list:
    return encode_label(table, "y", encoding).column("y").to_pylist()


def test_string_label_with_positive_label_becomes_zero_one():
    table = table_of(pa.array(["no", "yes", "no"]), pa.array(["yes", "yes"]))
    encoding = label_encoding(spec_with(positive_label="yes"), table.column("y"))
    assert (encoding.classes, encoding.binary, encoding.positive_label) == (("no", "yes"), True, "yes")
    assert codes(table, encoding) == [0, 1, 0, 1, 1]
    assert encode_label(table, "y", encoding).column("y").type == pa.int8()
    flipped = label_encoding(spec_with(positive_label="no"), table.column("y"))
    assert flipped.classes == ("yes", "no") and codes(table, flipped) == [1, 0, 1, 0, 0]


@pytest.mark.parametrize("positive, values", [("Yes", ["No", "Yes", "Yes"]), (None, ["a", "b", "c"])])
def test_codes_of_a_label_pandas_wrote_as_strings_reach_the_workflow_as_numbers(tmp_path, positive, values):
    """pandas records a string label's dtype in the file; the codes must not get it back ('0', '1') in to_pandas."""
    import pandas as pd
    import pyarrow.parquet as pq

    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": values}).to_parquet(tmp_path / "own.parquet", index=False)
    table = pq.read_table(tmp_path / "own.parquet")
    encoded = encode_label(table, "y", label_encoding(spec_with(positive_label=positive), table.column("y"))).to_pandas()
    assert encoded["y"].tolist() == ([0, 1, 1] if positive else [0, 1, 2]) and encoded["y"].dtype.kind == "i"
    assert encoded["x"].tolist() == [1.0, 2.0, 3.0]


def test_a_label_pandas_saved_as_the_index_or_unreadable_pandas_metadata_leaves_the_label_a_column(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["No", "Yes", "Yes"]}).set_index("y").to_parquet(tmp_path / "indexed.parquet")
    table = pq.read_table(tmp_path / "indexed.parquet")
    broken = table.replace_schema_metadata({b"pandas": b"{not json"})
    for source in (table, broken):
        encoded = encode_label(source, "y", label_encoding(spec_with(positive_label="Yes"), source.column("y"))).to_pandas()
        assert encoded["y"].tolist() == [0, 1, 1] and encoded["x"].tolist() == [1.0, 2.0, 3.0]


def test_dictionary_encoded_strings_with_unused_dictionary_values():
    first = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), pa.array(["no", "yes", "maybe"]))
    second = pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int32()), pa.array(["yes", "no"]))
    table = table_of(first, second)
    encoding = label_encoding(spec_with(positive_label="yes"), table.column("y"))
    assert encoding.classes == ("no", "yes")
    assert codes(table, encoding) == [0, 1, 0, 1, 1]


@pytest.mark.parametrize(
    "values, positive, expected",
    [
        ([True, False, True], True, [1, 0, 1]),
        ([True, False, True], False, [0, 1, 0]),
        ([1, 2, 2, 1], 2, [0, 1, 1, 0]),
        ([1, 2, 2, 1], 1, [1, 0, 0, 1]),
        ([0.0, 1.0, 1.0], 1, [0, 1, 1]),
    ],
)
def test_bool_integer_and_float_labels_with_a_positive_label(values, positive, expected):
    table = table_of(pa.array(values))
    encoding = label_encoding(spec_with(positive_label=positive), table.column("y"))
    assert encoding.binary and codes(table, encoding) == expected


def test_two_valued_string_label_without_positive_label_is_refused():
    table = table_of(pa.array(["yes", "no", "no"]).dictionary_encode())
    with pytest.raises(DataError) as caught:
        label_encoding(spec_with(), table.column("y"))
    assert str(caught.value) == (
        "train.label: column 'y' is a string label with two values ('no', 'yes'); "
        "set train.positive_label to the positive one, e.g. \"positive_label\": \"yes\""
    )


@pytest.mark.parametrize(
    "values, positive, message",
    [
        (["no", "yes"], "Yes", "train.positive_label: 'Yes' is not a value of column 'y'; its values are 'no', 'yes'"),
        ([1, 2], "2", "train.positive_label: '2' is not a value of column 'y'; its values are 1, 2"),
        ([1, 0], True, "train.positive_label: True is not a value of column 'y'; its values are 0, 1"),
        (["a", "b", "c"], "a", "train.positive_label: column 'y' has 3 values after filtering ('a', 'b', 'c'); "
                               "a positive label needs a label with exactly two"),
        (["yes", "yes"], "yes", "train.positive_label: column 'y' has 1 value after filtering ('yes'); "
                                "a positive label needs a label with exactly two"),
        (["only"], None, "train.label: column 'y' has one value after filtering ('only'); a classifier needs at least two"),
    ],
)
def test_labels_that_cannot_be_encoded_are_refused_naming_the_values(values, positive, message):
    table = table_of(pa.array(values))
    with pytest.raises(DataError) as caught:
        label_encoding(spec_with(positive_label=positive), table.column("y"))
    assert str(caught.value) == message


def test_multiclass_string_label_becomes_class_codes():
    table = table_of(pa.array(["travel", "food", "retail"]).dictionary_encode(), pa.array(["food", "software"]).dictionary_encode())
    encoding = label_encoding(spec_with(), table.column("y"))
    assert (encoding.classes, encoding.binary, encoding.positive_label) == (("food", "retail", "software", "travel"), False, None)
    encoded = encode_label(table, "y", encoding).column("y")
    assert encoded.type == pa.int32() and encoded.to_pylist() == [3, 0, 1, 0, 2]


def test_too_many_classes_are_refused():
    table = table_of(pa.array([f"c{i}" for i in range(MAX_LABEL_CLASSES + 1)]))
    with pytest.raises(DataError, match=f"has {MAX_LABEL_CLASSES + 1} distinct string values; at most {MAX_LABEL_CLASSES}"):
        label_encoding(spec_with(), table.column("y"))


@pytest.mark.parametrize("values", [[0, 1, 1], [True, False], [1.5, 2.5, 3.5], [1, 2, 3]])
def test_labels_without_positive_label_that_are_not_strings_are_left_as_they_are(values):
    assert label_encoding(spec_with(), table_of(pa.array(values)).column("y")) is None


def test_an_empty_table_is_left_to_the_split_check():
    assert label_encoding(spec_with(positive_label="yes"), table_of(pa.array([], pa.string())).column("y")) is None
