"""The evaluation's bar chart: each model's exact match, token F1 and chrF, side by side (PNG).

Like the loss chart: matplotlib's object API and the Agg canvas only, imported when a chart is drawn."""

from __future__ import annotations

import io
from collections.abc import Mapping

from commands.records import JobRecord, PostKind, ThreadPost

_METRICS = (("exact", "exact match %"), ("f1", "token F1"), ("chrf", "chrF"))


def evaluation_chart_png(data: Mapping[str, object], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = [("fine-tuned", data.get("tuned"), "#1f77b4"), ("base", data.get("base"), "#7f7f7f")]
    present = [(name, figures, color) for name, figures, color in series if isinstance(figures, Mapping)]
    fig = Figure(figsize=(6, 3.2), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(present))
    for k, (name, figures, color) in enumerate(present):
        values = [float(figures.get(key, 0) or 0) for key, _ in _METRICS]
        xs = [i + (k - (len(present) - 1) / 2) * width for i in range(len(_METRICS))]
        bars = ax.bar(xs, values, width=width, label=name, color=color)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(_METRICS)), [label for _, label in _METRICS], fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("score (0–100)", fontsize=8)
    ax.set_title(title[:80], fontsize=10)
    ax.tick_params(labelsize=7)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def evaluation_upload(post: ThreadPost, job: JobRecord) -> tuple[str, str, bytes] | None:
    """(file name, title, PNG) of an ``EVALUATION_CHART`` post; None for any other post."""
    if post.kind is not PostKind.EVALUATION_CHART:
        return None
    name = f"{job.id}-{str(post.data.get('evaluation_id') or 'evaluation')[-6:]}-evaluation.png"
    png = evaluation_chart_png(post.data, title=f"{job.id} · fine-tuned vs base")
    return name, f"Evaluation: {job.id}", png
