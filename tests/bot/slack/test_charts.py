from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bot.slack.charts import loss_chart_png, overfit_post, overfitting
from commands.models import MetricPoint
from commands.records import PostKind

ROOT = Path(__file__).resolve().parents[3]


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", png[16:24])
    crc = struct.unpack(">I", png[29:33])[0]
    assert crc == zlib.crc32(png[12:29]), "IHDR checksum"
    assert png.endswith(b"IEND\xaeB`\x82")
    return width, height


def _run(train: list[float], valid: dict[int, float], *, every: int = 10) -> list[MetricPoint]:
    """Train loss at every step, valid loss at the steps given (as the services report them)."""
    return [
        MetricPoint(step=i + 1, epoch=i // every + 1, train_loss=t, valid_loss=valid.get(i + 1))
        for i, t in enumerate(train)
    ]


def _falling(n: int, start: float = 2.0, end: float = 0.1) -> list[float]:
    return [start - (start - end) * i / (n - 1) for i in range(n)]


def test_chart_is_a_small_valid_png() -> None:
    metrics = _run(_falling(50), {10: 1.5, 20: 1.0, 30: 0.8, 40: 0.85, 50: 0.9})
    png = loss_chart_png(metrics, "ft-support-1 <!channel>")
    width, height = _png_size(png)
    assert (width, height) == (900, 480)
    assert len(png) < 150_000


def test_chart_without_metrics_or_validation_still_renders() -> None:
    _png_size(loss_chart_png([], "empty"))
    _png_size(loss_chart_png(_run(_falling(5), {}), "train only"))
    _png_size(loss_chart_png([MetricPoint(step=3, valid_loss=0.5)], "valid only"))


def test_charts_do_not_import_pyplot() -> None:
    code = (
        "import sys, bot.slack.charts\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module import'\n"
        "from commands.models import MetricPoint\n"
        "bot.slack.charts.loss_chart_png([MetricPoint(step=1, train_loss=1.0)], 't')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "import matplotlib; assert matplotlib.get_backend().lower() == 'agg'\n"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg", "DISPLAY": ""}  # a GUI backend asked for, and no display
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env, cwd=ROOT)


def test_overfitting_fires_when_validation_runs_away() -> None:
    metrics = _run(_falling(100), {20: 1.2, 40: 0.8, 60: 0.7, 80: 0.85, 100: 1.1})
    found = overfitting(metrics)
    assert found is not None
    train, valid = found
    assert valid == pytest.approx(1.1)
    assert train == pytest.approx(sum(_falling(100)[-5:]) / 5)


@pytest.mark.parametrize(
    ("train", "valid"),
    [
        (_falling(100), {20: 1.2, 40: 0.8, 60: 0.7, 80: 0.6, 100: 0.5}),  # both falling: healthy
        (_falling(100), {20: 0.80, 40: 0.70, 60: 0.70, 80: 0.72, 100: 0.75}),  # rise under 10 %: noise
        (
            _falling(100, 0.5, 0.01),
            {20: 0.05, 40: 0.04, 60: 0.04, 80: 0.05, 100: 0.055},
        ),  # +0.015: under 0.02
        (_falling(100), {50: 0.9, 100: 2.0}),  # only two validation points
        (_falling(100), {20: 1.2, 40: 0.8, 60: 0.7, 80: 0.65, 100: 0.6}),  # best is the last
        (
            [1.0] * 50 + [1.5] * 50,
            {20: 1.2, 40: 0.8, 60: 0.9, 80: 1.0, 100: 1.3},
        ),  # train rising too: not overfit
        (_falling(100), {}),  # no validation data
    ],
)
def test_overfitting_stays_quiet(train: list[float], valid: dict[int, float]) -> None:
    assert overfitting(_run(train, valid)) is None


def test_overfitting_ignores_report_order() -> None:
    metrics = _run(_falling(100), {20: 1.2, 40: 0.8, 60: 0.7, 80: 0.85, 100: 1.1})
    assert overfitting(list(reversed(metrics))) == overfitting(metrics)


def test_overfit_post_carries_what_the_thread_message_needs() -> None:
    metrics = _run(_falling(100), {20: 1.2, 40: 0.8, 60: 0.7, 80: 0.85, 100: 1.1})
    post = overfit_post("ft-1", metrics)
    assert post is not None and post.kind is PostKind.OVERFIT_WARNING and post.job_id == "ft-1"
    assert post.data["valid_loss"] == pytest.approx(1.1) and post.data["best_valid_loss"] == pytest.approx(
        0.7
    )
    assert overfit_post("ft-1", _run(_falling(10), {})) is None
