"""The training spec: the JSON request that describes one training run.

It follows the request in the talk key for key (`metadata`, `data`, `filters`,
`holdout_sampling`, `train`, `compute_resource`). Unknown keys are rejected
everywhere except `train.custom_params`, which is handed to the workflow
untouched. `load_spec` turns every validation problem into one line that starts
with the JSON path of the field, e.g.
``filters[0].predicate: expected one of IsIn, NotIn, ...; got 'IsOneOf'``.
Sizes are capped (`MAX_FILTERS` and the other limits below) so that one request
cannot exhaust the service that reads it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from railyard.errors import SpecError
from railyard.printable import first_control

MAX_FILTERS = 256
MAX_FILTER_VALUES = 100_000  # per filter's feature_value
MAX_CLASSIFIER_FEATURES = 1_000
MAX_CUSTOM_PARAMS_BYTES = 64 * 1024  # of compact JSON
MAX_JSON_DEPTH = 32  # levels of nesting inside custom_params
MAX_NAME_CHARS = 256  # a model name, owner, project or trainer
MAX_DESCRIPTION_CHARS = 10_000
INVISIBLE_CATEGORIES = ("Cf", "Zl", "Zp")  # format characters (zero-width, BOM) and line and paragraph separators


def _at_most(limit: int, things: str):
    """A before-validator: a list longer than `limit` is rejected before its items are validated."""
    def check(value: Any) -> Any:
        if isinstance(value, (list, tuple)) and len(value) > limit:
            raise ValueError(f"at most {limit} {things}, got {len(value)}")
        return value
    return BeforeValidator(check)


def _walk(value: Any):
    """(item, path such as `a.b[0]`, depth) of `value` and of everything inside it, dict keys too, depth first,
    without recursion."""
    stack = [(value, "", 0)]
    while stack:
        item, path, level = stack.pop()
        yield item, path, level
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                stack += [(key, where, level + 1), (child, where, level + 1)]
        elif isinstance(item, (list, tuple)):
            stack += [(child, f"{path}[{i}]", level + 1) for i, child in enumerate(item)]


def _too_deep(value: Any, depth: int) -> str | None:
    """The path of the first container nested deeper than `depth` levels."""
    for item, path, level in _walk(value):
        if level >= depth and isinstance(item, (dict, list, tuple)):
            return path or "(top)"
    return None


def _unencodable(value: Any) -> tuple[str, str] | None:
    """(path, character) of the first key or string holding half a surrogate pair (a JSON `\\ud800`), which
    UTF-8 cannot encode and so nothing could store or print."""
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode()
        return None  # the common case, found at the speed of the JSON encoder
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        pass  # look for where
    for item, path, _ in _walk(value):
        if isinstance(item, str) and not item.isascii():
            try:
                item.encode()
            except UnicodeEncodeError as exc:
                return path.encode(errors="backslashreplace").decode(), item[exc.start]
    return None


def _json_at_most(limit: int, depth: int = MAX_JSON_DEPTH):
    """A before-validator: a value nested deeper than `depth`, or whose compact JSON is over `limit` bytes, is rejected;
    the depth is checked first, before anything serializes the value."""
    def check(value: Any) -> Any:
        deep = _too_deep(value, depth)
        if deep is not None:
            shown = deep if len(deep) <= 80 else deep[:40] + "…" + deep[-37:]
            raise ValueError(f"at most {depth} levels of nesting; {shown} is nested deeper")
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())
        if size > limit:
            raise ValueError(f"at most {limit // 1024} KiB ({limit} bytes) of JSON, got {size} bytes")
        return value
    return BeforeValidator(check)


def _printable(multiline: bool = False):
    """An after-validator: text holding a control character (an escape, a C1 control, a bidi override;
    a newline or a tab unless `multiline`) is rejected, as a terminal that printed it would act on it.
    A name (not `multiline`) may not hold an invisible character either (a zero-width space, a line
    separator), so no two names that look the same are different names."""
    def check(value: str) -> str:
        found = first_control(value, multiline=multiline)
        if found is not None:
            raise ValueError(f"holds the control character U+{ord(found):04X}; expected printable text")
        if not multiline:
            invisible = next((c for c in value if unicodedata.category(c) in INVISIBLE_CATEGORIES), None)
            if invisible is not None:
                raise ValueError(f"holds the invisible character U+{ord(invisible):04X}; expected a name that shows as written")
        return value
    return AfterValidator(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Predicate(str, enum.Enum):
    IsIn = "IsIn"
    NotIn = "NotIn"
    Equal = "Equal"
    NotEqual = "NotEqual"
    GreaterThan = "GreaterThan"
    GreaterThanOrEqual = "GreaterThanOrEqual"
    LessThan = "LessThan"
    LessThanOrEqual = "LessThanOrEqual"
    Between = "Between"
    IsNull = "IsNull"
    IsNotNull = "IsNotNull"


# How many values each predicate takes: (at least, at most); None = unbounded.
PREDICATE_ARITY: dict[Predicate, tuple[int, int | None]] = {
    Predicate.IsIn: (1, None),
    Predicate.NotIn: (1, None),
    Predicate.Equal: (1, 1),
    Predicate.NotEqual: (1, 1),
    Predicate.GreaterThan: (1, 1),
    Predicate.GreaterThanOrEqual: (1, 1),
    Predicate.LessThan: (1, 1),
    Predicate.LessThanOrEqual: (1, 1),
    Predicate.Between: (2, 2),
    Predicate.IsNull: (0, 0),
    Predicate.IsNotNull: (0, 0),
}


class SamplingFunction(str, enum.Enum):
    DATE_RANGE = "DATE_RANGE"
    RANDOM = "RANDOM"


class ComputeResource(str, enum.Enum):
    CPU = "CPU"
    GPU = "GPU"
    HIGH_MEMORY = "HIGH_MEMORY"


# The most workers one job may ask for, by compute resource (each worker is one node of that class).
MAX_WORKERS = {ComputeResource.CPU: 64, ComputeResource.GPU: 16, ComputeResource.HIGH_MEMORY: 16}


class Metadata(_Strict):
    model_name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), _printable()]
    owner: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), _printable()]
    model_description: Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS), _printable(multiline=True)] = ""
    project: Annotated[str, Field(max_length=MAX_NAME_CHARS), _printable()] = ""
    trainer: Annotated[str, Field(max_length=MAX_NAME_CHARS), _printable()] = ""


class FeatureSource(_Strict):
    names: list[str] = Field(min_length=1)
    path: str = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "FeatureSource":
        dupes = sorted({n for n in self.names if self.names.count(n) > 1})
        if dupes:
            raise ValueError(f"column listed more than once: {', '.join(dupes)}")
        return self


class Data(_Strict):
    features: list[FeatureSource] = Field(min_length=1)
    date_column: str | None = None
    join_keys: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _join_keys_when_joining(self) -> "Data":
        if len(self.features) > 1 and not self.join_keys:
            raise ValueError(
                f"{len(self.features)} feature sources need data.join_keys naming the columns they are joined on"
            )
        for i, source in enumerate(self.features):
            missing = [k for k in self.join_keys if k not in source.names]
            if len(self.features) > 1 and missing:
                raise ValueError(
                    f"features[{i}].names must include the join keys; missing {', '.join(missing)}"
                )
        return self

    def column_names(self) -> list[str]:
        """Every column the sources provide, join keys once, in spec order."""
        seen: dict[str, None] = {}
        for source in self.features:
            seen.update(dict.fromkeys(source.names))
        return list(seen)


def _iso_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO date or datetime such as 2018-10-01, got {value!r}") from None
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_timestamp)]


_FilterValues = _at_most(MAX_FILTER_VALUES, "values")


class FeatureValue(_Strict):
    string_vals: Annotated[list[str] | None, _FilterValues] = None
    int_vals: Annotated[list[int] | None, _FilterValues] = None
    float_vals: Annotated[list[float] | None, _FilterValues] = None
    bool_val: bool | None = None
    timestamp_vals: Annotated[list[Timestamp] | None, _FilterValues] = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> "FeatureValue":
        given = self._given()
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of string_vals, int_vals, float_vals, bool_val, timestamp_vals; "
                f"got {', '.join(given) or 'none'}"
            )
        return self

    def _given(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]

    @property
    def kind(self) -> str:
        return self._given()[0]

    @property
    def values(self) -> list[Any]:
        raw = getattr(self, self.kind)
        return [raw] if self.kind == "bool_val" else list(raw)


class Filter(_Strict):
    feature_name: str = Field(min_length=1)
    predicate: Predicate
    feature_value: FeatureValue | None = None

    @model_validator(mode="after")
    def _arity(self) -> "Filter":
        least, most = PREDICATE_ARITY[self.predicate]
        count = len(self.feature_value.values) if self.feature_value else 0
        if most == 0 and self.feature_value is not None:
            raise ValueError(f"{self.predicate.value} takes no feature_value")
        if count < least or (most is not None and count > most):
            wanted = f"exactly {least}" if least == most else f"at least {least}"
            raise ValueError(
                f"{self.predicate.value} takes {wanted} value{'s' if least != 1 else ''}, got {count}"
            )
        if self.predicate is Predicate.Between:
            low, high = self.feature_value.values
            if low > high:
                raise ValueError(f"Between needs low <= high, got {low!r} > {high!r}")
        return self


class DateRangeSampling(_Strict):
    date_column: str = Field(min_length=1)
    start_date: dt.date
    end_date: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> "DateRangeSampling":
        if self.start_date >= self.end_date:
            raise ValueError(
                f"start_date {self.start_date} must be before end_date {self.end_date} (end is exclusive)"
            )
        return self


class RandomSampling(_Strict):
    fraction: float = Field(gt=0.0, lt=1.0)
    seed: int = 0


class HoldoutSampling(_Strict):
    sampling_function: SamplingFunction
    date_range_sampling: DateRangeSampling | None = None
    random_sampling: RandomSampling | None = None

    @model_validator(mode="after")
    def _matching_block(self) -> "HoldoutSampling":
        wanted = {
            SamplingFunction.DATE_RANGE: "date_range_sampling",
            SamplingFunction.RANDOM: "random_sampling",
        }[self.sampling_function]
        other = ({"date_range_sampling", "random_sampling"} - {wanted}).pop()
        if getattr(self, wanted) is None:
            raise ValueError(f"sampling_function {self.sampling_function.value} needs {wanted}")
        if getattr(self, other) is not None:
            raise ValueError(f"sampling_function {self.sampling_function.value} does not take {other}")
        return self


def _label_value(value: Any) -> Any:
    if value is not None and not isinstance(value, (str, bool, int, float)):
        raise ValueError(f"expected a string, boolean or number: the label's positive value; got {type(value).__name__}")
    return value


class Train(_Strict):
    workflow_name: str = Field(min_length=1)
    # May be empty for workflows that need no features (requires_features = False); checked against the workflow.
    classifier_features: Annotated[list[str], _at_most(MAX_CLASSIFIER_FEATURES, "features")] = Field(default_factory=list)
    label: str = Field(min_length=1)
    positive_label: Annotated[bool | int | float | str | None, BeforeValidator(_label_value)] = None
    custom_params: Annotated[dict[str, Any], _json_at_most(MAX_CUSTOM_PARAMS_BYTES)] = Field(default_factory=dict)


class Checkpointing(_Strict):
    """How often a training loop writes a checkpoint (railyard.checkpoint): every `every_iterations` (default: a
    tenth of the loop's iterations) or every `every_seconds`, whichever comes first; `enabled: false`, never.
    `exact`: an XGBoost loop that samples draws each round's samples from the round alone, so that a resumed
    run ends with the uninterrupted run's model (xgboost_loop.SeededRounds); false: as XGBoost draws them."""

    enabled: bool = True
    every_iterations: int | None = Field(default=None, ge=1)
    every_seconds: float = Field(default=300.0, gt=0, le=86_400)
    exact: bool = True


class TrainingSpec(_Strict):
    metadata: Metadata
    data: Data
    filters: Annotated[list[Filter], _at_most(MAX_FILTERS, "filters")] = Field(default_factory=list)
    holdout_sampling: HoldoutSampling
    train: Train
    compute_resource: ComputeResource = ComputeResource.CPU
    workers: int = Field(default=1, ge=1)
    allow_cpu_fallback: bool = False
    allow_larger_class: bool = False
    min_training_examples: int | None = Field(default=None, ge=1)  # None: the workflow's (Workflow.min_training_examples)
    output_path: str | None = None
    checkpoints: Checkpointing = Field(default_factory=Checkpointing)

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        found = _unencodable(value)
        if found is not None:
            raise ValueError(f"{found[0]}: holds U+{ord(found[1]):04X}, half a surrogate pair; expected text UTF-8 can encode")
        return value

    @model_validator(mode="after")
    def _workers_within_the_resource(self) -> "TrainingSpec":
        most = MAX_WORKERS[self.compute_resource]
        if self.workers > most:
            raise ValueError(f"workers: at most {most} for compute_resource {self.compute_resource.value}, got {self.workers}")
        if self.workers > 1 and self.allow_cpu_fallback and self.compute_resource is ComputeResource.GPU:
            raise ValueError("allow_cpu_fallback: applies to one worker only; with workers > 1 every worker must train on "
                             "the device asked for, as the workers of one job must agree on it")
        return self

    def with_paths_relative_to(self, base: str | Path) -> "TrainingSpec":
        """A copy whose relative local data paths are made absolute against `base`."""
        def resolve(path: str) -> str:
            if "://" in path or Path(path).is_absolute():
                return path
            return str(Path(base) / path)

        sources = [s.model_copy(update={"path": resolve(s.path)}) for s in self.data.features]
        return self.model_copy(update={"data": self.data.model_copy(update={"features": sources})})

    def to_json(self) -> str:
        """The spec as JSON that parses back to an equal spec."""
        return self.model_dump_json(indent=2, exclude_none=True)

    def spec_hash(self) -> str:
        """sha256 of the normalized spec: same meaning, same hash."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _json_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(spec)"


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = TrainingSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", ()) + (annotation,):
            inner = getattr(candidate, "__args__", (candidate,))
            found = next((c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)), None)
            if found is not None:
                model = found
                break
        else:
            return []
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def describe_error(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc)
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"{_json_path(loc)}: unknown field; allowed: {', '.join(allowed)}{suggestion}"
    if kind == "missing":
        return f"{_json_path(loc)}: required field is missing"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{_json_path(loc)}: expected one of {expected.replace(' or ', ', ')}; got {error['input']!r}"
    message = error["msg"].removeprefix("Value error, ")
    if not loc and (field := re.match(r"[a-z_]+", message)) and field[0] in TrainingSpec.model_fields:
        return message  # a check across fields, which names its own
    return f"{_json_path(loc)}: {message}"


def parse_spec(raw: Any) -> TrainingSpec:
    """Validate a decoded JSON object; raise SpecError with one line per problem."""
    if not isinstance(raw, dict):
        raise SpecError([f"(spec): expected a JSON object, got {type(raw).__name__}"])
    try:
        return TrainingSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([describe_error(e) for e in exc.errors()]) from None


def load_spec(path: str | Path) -> TrainingSpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError([f"(spec): cannot read {path}: {exc.strerror}"]) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([f"(spec): {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    return parse_spec(raw)
