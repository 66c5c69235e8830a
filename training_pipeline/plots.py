"""Figures logged as MLflow artifacts: people would rather look at these than read numbers."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def comparison_bars(table: pd.DataFrame, metrics: list[str], title: str) -> Figure:
    """One panel per metric, one bar per model (rows of `table`, indexed by model name)."""
    metrics = [m for m in metrics if m in table.columns]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(3.2 * max(1, len(metrics)), 3.4))
    axes = np.atleast_1d(axes)
    colors = plt.cm.tab10(np.arange(len(table)))
    for ax, metric in zip(axes, metrics, strict=False):
        values = table[metric].astype(float)
        ax.bar(range(len(values)), values.to_numpy(), color=colors)
        ax.set_xticks(range(len(values)), [str(i) for i in table.index], rotation=40, ha="right")
        ax.set_title(metric, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def reliability_diagram(calibration: pd.DataFrame, title: str) -> Figure:
    """Predicted vs observed rate per bin (columns: mean_predicted, observed_rate, count)."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    if len(calibration):
        sizes = 20 + 180 * calibration["count"] / max(1, calibration["count"].max())
        ax.scatter(calibration["mean_predicted"], calibration["observed_rate"], s=sizes)
        ax.plot(calibration["mean_predicted"], calibration["observed_rate"], "-o", ms=2)
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed drop-out / no-show rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def histogram(values: Mapping[str, np.ndarray], title: str, xlabel: str, bins: int = 30) -> Figure:
    """Overlaid histograms, e.g. path JP totals per model."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for label, data in values.items():
        data = np.asarray(data, dtype=float)
        if data.size:
            ax.hist(data, bins=bins, alpha=0.5, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("employees")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
