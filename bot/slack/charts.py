"""The loss chart uploaded into a job's thread, and the overfitting check that goes with it.

matplotlib is imported when a chart is drawn, not when this module is imported, and only through its
object API (``Figure`` + the Agg canvas): no pyplot, no global figure state, no display, safe to call
from worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from commands.models import MetricPoint
from commands.records import PostKind, ThreadPost

#: the overfitting rule's thresholds (see ``overfitting``)
MIN_VALID_POINTS = 3
RELATIVE_RISE = 0.10
ABSOLUTE_RISE = 0.02
TRAIN_WINDOW = 5


def loss_chart_png(metrics: Sequence[MetricPoint], title: str) -> bytes:
    """Training and validation loss by step, as a small PNG (about 900×480 px)."""
    fig, ax = _axes()
    train, valid = _losses(metrics)
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss", color="#1f77b4", linewidth=1.4)
    if valid:
        ax.plot(
            *zip(*valid, strict=True),
            label="validation loss",
            color="#d62728",
            linewidth=1.4,
            marker="o" if len(valid) <= 30 else None,
            markersize=3,
        )
    return _png(fig, ax, title, legend_size=8 if train or valid else None)


def _axes() -> tuple[Any, Any]:
    """A 6×3.2 in figure at 150 dpi on the Agg canvas, and its one axes."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # never a GUI backend in the serve process
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), dpi=150)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _losses(metrics: Sequence[MetricPoint]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """The (step, loss) points of training and of validation, by step."""
    points = sorted(metrics, key=lambda p: p.step)
    train = [(p.step, p.train_loss) for p in points if p.train_loss is not None]
    valid = [(p.step, p.valid_loss) for p in points if p.valid_loss is not None]
    return train, valid


def _png(fig: Any, ax: Any, title: str, *, legend_size: int | None) -> bytes:
    """The chart's title, axes and legend (``legend_size`` None: nothing was drawn, say so), as PNG."""
    if legend_size is None:
        ax.text(0.5, 0.5, "No loss metrics reported", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(loc="upper right", fontsize=legend_size, frameon=False)
    ax.set_title(title[:80], fontsize=10)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("loss", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


#: one colour per run of an overlaid chart (training solid, validation dashed with markers)
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def overlaid_loss_chart_png(runs: Sequence[tuple[str, Sequence[MetricPoint]]], title: str) -> bytes:
    """Several runs' training and validation loss by step on one chart (``/finetune compare``): a colour
    per run, training loss solid, validation loss dashed."""
    fig, ax = _axes()
    drawn = False
    for (name, metrics), colour in zip(runs, RUN_COLOURS, strict=False):
        train, valid = _losses(metrics)
        label = name[:40]
        if train:
            ax.plot(*zip(*train, strict=True), label=f"{label} training", color=colour, linewidth=1.3)
        if valid:
            ax.plot(
                *zip(*valid, strict=True),
                label=f"{label} validation",
                color=colour,
                linewidth=1.3,
                linestyle="--",
                marker="o" if len(valid) <= 30 else None,
                markersize=3,
            )
        drawn = drawn or bool(train or valid)
    return _png(fig, ax, title, legend_size=7 if drawn else None)


def _train_loss_near(points: Sequence[MetricPoint], step: int) -> float | None:
    """Mean training loss over the last ``TRAIN_WINDOW`` reports at or before ``step`` (smooths the noise
    of single batches)."""
    window = [p.train_loss for p in points if p.step <= step and p.train_loss is not None][-TRAIN_WINDOW:]
    return sum(window) / len(window) if window else None


def overfitting(metrics: Sequence[MetricPoint]) -> tuple[float, float] | None:
    """``(train_loss, valid_loss)`` at the last validation report when validation loss runs away from
    training loss, else ``None``.

    The rule, on points ordered by step:
    - at least ``MIN_VALID_POINTS`` validation losses, and the best (lowest) is not the last one;
    - the last validation loss exceeds the best by a clear margin: more than ``RELATIVE_RISE`` (10 %)
      of the best *and* more than ``ABSOLUTE_RISE`` (0.02) in absolute terms, so noise does not warn;
    - training loss kept falling meanwhile: its mean over the last ``TRAIN_WINDOW`` reports up to the
      last validation step is below the same mean up to the best validation step.
    The train loss returned is that smoothed mean; the valid loss is the last one reported.
    """
    points = sorted(metrics, key=lambda p: p.step)
    valid = [(p.step, p.valid_loss) for p in points if p.valid_loss is not None]
    if len(valid) < MIN_VALID_POINTS:
        return None
    best_step, best = min(valid, key=lambda sv: sv[1])
    last_step, last = valid[-1]
    if best_step == last_step:
        return None
    rise = last - best
    if rise <= ABSOLUTE_RISE or rise <= RELATIVE_RISE * abs(best):
        return None
    train_at_best = _train_loss_near(points, best_step)
    train_at_last = _train_loss_near(points, last_step)
    if train_at_best is None or train_at_last is None or train_at_last >= train_at_best:
        return None
    return train_at_last, last


def overfit_post(job_id: str, metrics: Sequence[MetricPoint]) -> ThreadPost | None:
    """The ``OVERFIT_WARNING`` thread post for these metrics, or ``None`` when the rule does not fire."""
    found = overfitting(metrics)
    if found is None:
        return None
    best = min(p.valid_loss for p in metrics if p.valid_loss is not None)
    return ThreadPost(
        job_id=job_id,
        kind=PostKind.OVERFIT_WARNING,
        data={"train_loss": found[0], "valid_loss": found[1], "best_valid_loss": best},
    )
