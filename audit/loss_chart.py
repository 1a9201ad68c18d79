"""Geometry of a training run's loss curves for the HTML report's inline SVG: two polylines
(train, eval) over steps, eval points marked, a few axis labels. Numbers only: the template
draws them, so no plotting library and nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit.model import Audit, LossPointRow, TrainingRunRow
from audit.training_runs import gap, loss

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 34
Y_TICKS = 4


@dataclass(frozen=True)
class Tick:
    x: str
    y: str
    label: str


@dataclass(frozen=True)
class LossChart:
    title: str
    caption: str
    train_points: str  # an SVG polyline's points ("x,y x,y ...")
    eval_points: str
    eval_marks: list[tuple[str, str]]
    train_marks: list[tuple[str, str]]  # a lone train point has no line to show it
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    legend_y: int = HEIGHT - 6


def _scale(low: float, high: float, out_low: float, out_high: float) -> tuple[float, float]:
    """(factor, offset) mapping [low, high] onto [out_low, out_high]; a flat range maps to
    the middle."""
    if high == low:
        return 0.0, (out_low + out_high) / 2
    factor = (out_high - out_low) / (high - low)
    return factor, out_low - low * factor


def loss_chart(export_label: str, run: TrainingRunRow) -> LossChart:
    points: Sequence[LossPointRow] = run.points
    values = [v for p in points for v in (p.train_loss, p.eval_loss) if v is not None]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.5
    low, high = low - pad, high + pad
    first, last = points[0].step, points[-1].step
    x_factor, x_offset = _scale(first, last, LEFT, WIDTH - RIGHT)
    # SVG's y grows downwards: the highest loss is at the top.
    y_factor, y_offset = _scale(low, high, HEIGHT - BOTTOM, TOP)

    def at(step: int, value: float) -> tuple[str, str]:
        return f"{step * x_factor + x_offset:.1f}", f"{value * y_factor + y_offset:.1f}"

    train = [at(p.step, p.train_loss) for p in points if p.train_loss is not None]
    evals = [at(p.step, p.eval_loss) for p in points if p.eval_loss is not None]
    y_ticks = []
    for index in range(Y_TICKS + 1):
        value = low + (high - low) * index / Y_TICKS
        _, y = at(first, value)
        y_ticks.append(Tick(str(LEFT - 6), y, f"{value:.3f}"))
    x_ticks = [
        Tick(at(step, low)[0], str(HEIGHT - BOTTOM + 14), str(step)) for step in {first, last}
    ]
    caption = (
        f"final train {loss(run.final_train_loss)} · eval {loss(run.final_eval_loss)}"
        f" · gap {gap(run.final_gap)}"
    )
    if run.best_eval_step is not None:
        caption += f" · lowest eval {loss(run.best_eval_loss)} at step {run.best_eval_step}"
    return LossChart(
        title=f"{export_label} · {run.file_name}",
        caption=caption,
        train_points=" ".join(f"{x},{y}" for x, y in train),
        eval_points=" ".join(f"{x},{y}" for x, y in evals),
        eval_marks=evals,
        train_marks=train if len(train) == 1 else [],
        y_ticks=y_ticks,
        x_ticks=sorted(x_ticks, key=lambda t: float(t.x)),
    )


def loss_charts(audit: Audit) -> list[LossChart]:
    charts = []
    for export in audit.training_runs.exports:
        label = f"export {export.export_id}" + (f" ({export.format})" if export.format else "")
        charts += [loss_chart(label, run) for run in export.runs if run.points]
    return charts
