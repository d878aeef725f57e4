"""The validator never raises on any input and always returns a report."""

from __future__ import annotations

import io

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.dataset import ValidationReport, validate_dataset
from commands.models import Task

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "function", "robot", None])
message = st.fixed_dictionaries(
    {"role": roles},
    optional={
        "content": st.one_of(
            st.text(),
            st.none(),
            st.integers(-5, 5),
            st.just("<|endoftext|>"),
            st.lists(st.dictionaries(st.sampled_from(["type", "text"]), st.text(), max_size=2)),
        ),
        "weight": st.sampled_from([0, 1, 2, "1", None]),
        "name": st.one_of(st.text(max_size=5), st.integers(-5, 5)),
        "tool_calls": json_values,
        "function_call": json_values,
        "tool_call_id": st.text(max_size=5),
    },
)
example = st.one_of(
    st.fixed_dictionaries({"messages": st.lists(message, max_size=5)}, optional={"tools": json_values}),
    st.dictionaries(
        st.sampled_from(["text", "ground_truth", "prompt", "completion", "messages", "x"]),
        st.one_of(st.text(), json_values),
        max_size=3,
    ),
    json_values,
)
line = st.one_of(
    example.map(lambda v: orjson.dumps(v)),
    st.binary(max_size=40),
    st.sampled_from([b"", b"\xef\xbb\xbf", b"\r", b"  ", b"{", b'{"messages": [}']),
)


def check(report: ValidationReport, n_bytes: int) -> None:
    assert isinstance(report, ValidationReport)
    assert report.ok == (not report.error_counts and (report.validation is None or report.validation.ok))
    assert sum(report.error_counts.values()) >= len(report.errors)
    assert report.stats.bytes == n_bytes
    report.to_json_dict()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), task=st.sampled_from(list(Task)))
def test_arbitrary_bytes(data: bytes, task: Task) -> None:
    check(validate_dataset(io.BytesIO(data), task=task, workers=1), len(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(line, max_size=25),
    task=st.sampled_from(list(Task)),
    bom=st.booleans(),
    count=st.booleans(),
    ctx=st.integers(1, 64),
)
def test_arbitrary_lines(lines: list[bytes], task: Task, bom: bool, count: bool, ctx: int) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
    report = validate_dataset(
        io.BytesIO(data),
        task=task,
        count_tokens=count,
        context_length=ctx,
        validation=io.BytesIO(data[: len(data) // 2]),
    )
    check(report, len(data))
    for issue in report.errors + report.warnings:
        assert issue.line is None or 1 <= issue.line <= data.count(b"\n") + 1
