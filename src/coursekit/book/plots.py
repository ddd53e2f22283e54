"""Figures with one look across the book.

Call ``use_book_style()`` once per notebook (the imports cell does). Plot functions take
histories, arrays and frames (never a model or a loader), draw on an optional ``ax``,
return the ``Figure``, and neither show nor save it. The same variant always gets the
same colour (``color_for``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["color_for", "colors_for", "legend_below", "plot_agreement", "plot_attention",
           "plot_confusion_matrices", "plot_confusion_matrix", "plot_curves",
           "plot_image_grid", "plot_image_rows", "plot_lr_schedule", "plot_map_2d",
           "plot_panels", "plot_per_seed", "plot_perplexity", "plot_reported_vs_reproduced",
           "plot_sweep", "plot_traces", "use_book_style"]

FIGSIZE = (6.0, 3.5)        # inches: the book column
WIDE_FIGSIZE = (7.0, 3.2)   # two panels side by side
_PALETTE = sns.color_palette("tab10") + sns.color_palette("Set2")
# Registry order of coursekit.models first, so a variant's colour never changes.
_VARIANT_ORDER = ["lenet", "lenet_bn", "lenet_dp", "lenet_l2", "lenet_bn_dp",
                  "super_lenet", "super_lenet_wrong_init"]


def use_book_style() -> None:
    """Set the book's seaborn theme, font sizes and crisp SVG output for notebooks."""
    sns.set_theme(context="notebook", style="whitegrid", palette=_PALETTE[:10],
                  font_scale=0.8, rc={"figure.figsize": FIGSIZE, "figure.dpi": 110,
                                      "savefig.dpi": 200, "axes.titleweight": "bold",
                                      "legend.frameon": False})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("svg")
    except ImportError:  # outside Jupyter
        pass


def color_for(variant: str) -> tuple[float, float, float]:
    """The colour of a variant name, the same in every chapter: the LeNets' by registry
    order, any other name's one of tab10's ten line colours picked by its letters (not
    Set2's pale yellow and tan, which A8's two word models once drew in, hard to tell
    apart and from the white page).

    >>> color_for("lenet") == _PALETTE[0], color_for("WordModel1") != color_for("WordModel2")
    (True, True)
    """
    if variant in _VARIANT_ORDER:
        return _PALETTE[_VARIANT_ORDER.index(variant)]
    return _PALETTE[sum(map(ord, variant)) % 10]


def colors_for(names: list[str]) -> dict[str, tuple[float, float, float]]:
    """``color_for`` of each name, unless two would share a colour: then the palette in
    the order given, so one figure never draws two lines alike."""
    colors = {name: color_for(name) for name in names}
    if len(set(colors.values())) < len(colors):
        colors = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}
    return colors


def plot_image_grid(images: np.ndarray, labels: np.ndarray, classes: list[str], *,
                    per_class: int = 6) -> Figure:
    """The first ``per_class`` images of every class, one row per class.

    Args:
        images: (N, C, H, W) uint8 array or tensor, RGB or grayscale.
        labels: (N,) class indices into ``classes``.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    return plot_image_rows({name: images[np.flatnonzero(labels == row)[:per_class]]
                            for row, name in enumerate(classes)}, cell=0.55)


def plot_image_rows(rows: dict[str, np.ndarray], *, cell: float = 0.75) -> Figure:
    """Rows of images, each row labelled on its left: a class's examples, or test images
    above their reconstructions.

    Args:
        rows: row label -> images (N, C, H, W), uint8 or floats in [0, 1], RGB or
            grayscale; a row with fewer images than the longest leaves blanks.
        cell: inches per image.
    """
    rows = {name: np.asarray(images, dtype=np.float32) for name, images in rows.items()}
    count = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), count, squeeze=False,
                             figsize=(cell * count + 1.4, cell * len(rows)))
    for r, (name, images) in enumerate(rows.items()):
        scale = 255.0 if images.size and images.max() > 1.0 else 1.0
        for c, ax in enumerate(axes[r]):
            ax.set_axis_off()
            if c < len(images):
                ax.imshow(images[c].transpose(1, 2, 0).squeeze() / scale, cmap="gray",
                          vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].text(-0.1, 0.5, name, transform=axes[r, 0].transAxes, ha="right",
                        va="center", fontsize="small")
    fig.subplots_adjust(left=0.2, right=0.99, top=0.99, bottom=0.01, wspace=0.05,
                        hspace=0.05)
    return fig


def plot_map_2d(points: np.ndarray, labels: np.ndarray, classes: list[str], *,
                ax: Axes | None = None, title: str | None = None,
                legend: bool = True) -> Figure:
    """A 2-D map of embeddings (e.g. ``representations.tsne_2d``), one colour per class."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 4.2))
    names = np.asarray(classes)[np.asarray(labels)]
    sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=names, hue_order=classes,
                    palette=_PALETTE[:len(classes)], s=10, linewidth=0, ax=ax,
                    legend=legend)
    ax.set(xticks=[], yticks=[], title=title)
    if legend:
        ax.legend(fontsize="small", markerscale=2, loc="center left",
                  bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def plot_curves(histories: dict[str, pd.DataFrame], *, labels: dict[str, str] | None = None,
                axes: tuple[Axes, Axes] | None = None) -> Figure:
    """Accuracy (left) and loss (right) per epoch: validation solid, training dashed.

    Args:
        histories: variant name -> per-epoch frame with columns train_acc, val_acc (%),
            train_loss, val_loss (``History.to_frame()``).
        labels: display names for the legend; defaults to the variant names.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    fig = axes[0].figure
    labels = labels or {}
    colors = colors_for(list(histories))
    for name, frame in histories.items():
        color = colors[name]
        marker = "o" if len(frame) <= 20 else None  # a few epochs: show the points
        for ax, metric in zip(axes, ("acc", "loss")):
            ax.plot(frame.index, frame[f"val_{metric}"], color=color, marker=marker,
                    ms=3, label=labels.get(name, name))
            ax.plot(frame.index, frame[f"train_{metric}"], color=color, ls="--", lw=1)
    axes[0].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    axes[1].set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    for ax in axes:
        _whole_number_ticks(ax)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=min(3, len(histories)),
                 title="solid: validation, dashed: training")
    return fig


def legend_below(fig: Figure, ax: Axes, *, ncol: int | None = None,
                 title: str | None = None) -> Figure:
    """One legend for every panel of ``fig``, under them, from ``ax``'s lines (each
    panel draws the same runs in the same colours), where it covers no curve; the
    panels' own legends are removed."""
    handles, names = ax.get_legend_handles_labels()
    for panel in fig.axes:
        if panel.get_legend() is not None:
            panel.get_legend().remove()
    fig.legend(handles, names, loc="upper center", ncol=ncol or len(names),
               bbox_to_anchor=(0.5, 0.0), fontsize="small", frameon=False, title=title,
               title_fontsize="small")
    return fig


def plot_perplexity(histories: dict, *, title: str, reference: float | None = None,
                    reference_label: str = "", labels: dict[str, str] | None = None
                    ) -> Figure:
    """Training perplexity of next-token models per step (smoothed over 50 steps, lines),
    validation perplexity after each epoch (dots) and a ``reference`` perplexity, from
    each model's ``training.History`` (losses in nats per token)."""
    labels = {name: (labels or {}).get(name, name) for name in histories}
    steps = {labels[name]: pd.DataFrame({
        "step": range(1, len(h.step_loss) + 1),
        "perplexity": pd.Series(h.step_loss).rolling(50, min_periods=1).mean().map(np.exp)})
        for name, h in histories.items()}
    fig = plot_traces(steps, x="step", y="perplexity", logy=True,
                      title=f"{title}: lines training (smoothed), dots validation",
                      reference=reference, reference_label=reference_label)
    colors = colors_for(list(steps))
    for name, h in histories.items():
        per_epoch = len(h.step_loss) / len(h.val_loss)
        fig.axes[0].plot([per_epoch * (e + 1) for e in range(len(h.val_loss))],
                         np.exp(h.val_loss), "o", color=colors[labels[name]],
                         label=f"{labels[name]}, validation")
    fig.axes[0].legend(fontsize="small")
    return fig


def plot_lr_schedule(lrs: list[float], steps_per_epoch: int, *,
                     ax: Axes | None = None) -> Figure:
    """Learning rate against epoch, from one value per optimizer step."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 2.4))
    epochs = np.arange(len(lrs)) / steps_per_epoch
    ax.plot(epochs, lrs, color=_PALETTE[0])
    ax.set(xlabel="epoch", ylabel="learning rate", ylim=(0, None))
    ax.figure.tight_layout()
    return ax.figure


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], *,
                          normalize: bool = True, ax: Axes | None = None,
                          title: str | None = None) -> Figure:
    """Heat map of a confusion matrix: true classes on rows, predicted on columns.

    With ``normalize`` each row is shown as percentages of that true class.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.2))
    values = 100 * matrix / matrix.sum(axis=1, keepdims=True) if normalize else matrix
    sns.heatmap(values, annot=True, fmt=".0f", cmap="Blues", cbar=False, square=True,
                xticklabels=classes, yticklabels=classes, annot_kws={"fontsize": 7},
                ax=ax)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=title or ("confusion matrix (% of true class)" if normalize
                           else "confusion matrix (counts)"))
    ax.figure.tight_layout()
    return ax.figure


def plot_confusion_matrices(matrices: dict[str, np.ndarray], classes: list[str], *,
                            ncols: int = 4) -> Figure:
    """One small confusion matrix (% of true class) per variant, ``ncols`` to a row."""
    ncols = min(ncols, len(matrices))
    nrows = -(-len(matrices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(min(7.0, 1.6 * ncols + 0.6), 2.2 * nrows))
    for ax in axes.flat[len(matrices):]:
        ax.set_visible(False)
    for ax, (name, matrix) in zip(axes.flat, matrices.items()):
        plot_confusion_matrix(matrix, classes, ax=ax, title=name)
        ax.set(xlabel="", ylabel="")
        ax.tick_params(labelsize=7)
    for row in axes:
        row[0].set_ylabel("true class")
    fig.supxlabel("predicted class", fontsize="small")
    fig.tight_layout()
    return fig


def plot_attention(weights: np.ndarray, source: list[str], output: list[str], *,
                   ax: Axes | None = None, title: str | None = None) -> Figure:
    """Heat map of attention: one row per output word, one column per source word."""
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * len(source) + 1.2, 0.4 * len(output) + 1.0))
    sns.heatmap(np.asarray(weights), cmap="Greys", vmin=0, vmax=1, cbar=False, square=True,
                xticklabels=source, yticklabels=output, ax=ax)
    ax.tick_params(labelsize=8, length=0)
    ax.set_xticklabels(source, rotation=60, ha="right")
    ax.set(xlabel="", ylabel="", title=title)
    ax.figure.tight_layout()
    return ax.figure


def plot_reported_vs_reproduced(table: pd.DataFrame, *, metric: str,
                                ax: Axes | None = None) -> Figure:
    """Paired horizontal bars of one metric: the report's value and ours, per variant.

    Args:
        table: ``report.comparison_table`` output (columns variant, metric, reported,
            reproduced).
        metric: which metric's rows to draw, e.g. "test accuracy (%)".
    """
    rows = table[table["metric"] == metric]
    long = rows.melt(id_vars="variant", value_vars=["reported", "reproduced"],
                     var_name="source", value_name=metric)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 0.35 * len(rows) + 1.2))
    sns.barplot(long, y="variant", x=metric, hue="source", ax=ax,
                palette=["0.65", _PALETTE[0]])
    ax.set(ylabel="", xlabel=metric)
    ax.legend(title="", loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


def _whole_number_ticks(ax: Axes) -> None:
    """Ticks on whole numbers only along x (epochs, steps): no epoch 1.5, and a run of
    one epoch gets the tick 1 rather than 0.95, 0.975, ..."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _label(given: str | None, column: str) -> str:
    """An axis label: the one given ("" for none), else the column's name."""
    return column if given is None else given


def plot_traces(traces: dict[str, pd.DataFrame], *, x: str = "step", y: str = "loss",
                ax: Axes | None = None, logy: bool = False, reference: float | None = None,
                reference_label: str = "", xlabel: str | None = None,
                ylabel: str | None = None, title: str | None = None) -> Figure:
    """One line per run of ``y`` against ``x`` (a column or the index name).

    ``reference`` draws a grey horizontal line, e.g. ln(C), the loss of a uniform guess.
    """
    if ax is None:
        _, ax = plt.subplots()
    colors = colors_for(list(traces))
    for name, frame in traces.items():
        xs = frame.index if x == frame.index.name else frame[x]
        ax.plot(xs, frame[y], color=colors[name], label=name, lw=1.2)
    if reference is not None:
        ax.axhline(reference, color="0.4", ls=":", lw=1)
        ax.annotate(reference_label, (1, reference), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", fontsize="small", color="0.3")
    if logy:
        ax.set_yscale("log")
    if x in ("epoch", "step"):
        _whole_number_ticks(ax)
    ax.set(xlabel=_label(xlabel, x), ylabel=_label(ylabel, y), title=title)
    ax.legend(fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def plot_sweep(frame: pd.DataFrame, *, x: str, y: str, hue: str | None = None,
               ax: Axes | None = None, logx: bool = False, log2x: bool = False,
               xlabel: str | None = None, ylabel: str | None = None,
               title: str | None = None) -> Figure:
    """A measured quantity against a swept setting (batch size, depth, coefficient)."""
    if ax is None:
        _, ax = plt.subplots()
    sns.lineplot(frame, x=x, y=y, hue=hue, marker="o", ax=ax,
                 errorbar="sd" if frame.duplicated([c for c in (x, hue) if c]).any()
                 else None)
    if logx or log2x:
        ax.set_xscale("log", base=2 if log2x else 10)
    if log2x:
        ticks = sorted(frame[x].unique())
        ax.set_xticks(ticks, [str(int(t)) for t in ticks])
        ax.minorticks_off()
    ax.set(xlabel=_label(xlabel, x), ylabel=_label(ylabel, y), title=title)
    if hue:
        ax.legend(title=hue, fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def plot_per_seed(frame: pd.DataFrame, *, x: str, y: str, ax: Axes | None = None,
                  xlabel: str | None = None, ylabel: str | None = None,
                  title: str | None = None) -> Figure:
    """Each seed's value as a dot and the mean with its standard deviation, per group."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.0))
    sns.stripplot(frame, x=x, y=y, color="0.55", size=4, jitter=0.08, ax=ax)
    sns.pointplot(frame, x=x, y=y, errorbar="sd", color=_PALETTE[0], markers="D",
                  linestyles="none", capsize=0.15, ax=ax)
    ax.set(xlabel=_label(xlabel, x), ylabel=_label(ylabel, y), title=title)
    ax.figure.tight_layout()
    return ax.figure


def plot_panels(frame: pd.DataFrame, *, x: str, y: str, hue: str, col: str,
                xlabel: str | None = None, ylabel: str | None = None,
                logy: bool = False) -> Figure:
    """``y`` against ``x``, one line per ``hue`` value, one panel per ``col`` value.

    For sweeps with two factors, e.g. training loss per epoch (x) for every depth (hue)
    and activation (col); the colours run along ``viridis`` so order reads at a glance.
    """
    grid = sns.relplot(frame, x=x, y=y, hue=hue, col=col, kind="line", marker="o",
                       markersize=3, palette="viridis", height=2.7, aspect=1.15,
                       legend="full", facet_kws={"sharey": True})
    if logy:
        grid.set(yscale="log")
    grid.set_axis_labels(_label(xlabel, x), _label(ylabel, y))
    grid.set_titles("{col_name}")
    return grid.figure


def plot_agreement(frame: pd.DataFrame, *, band: float = 1.5, hue: str = "part",
                   ax: Axes | None = None) -> Figure:
    """Every reported number against ours: one dot each, the diagonal for perfect
    agreement and a shaded band of +-``band`` around it.

    Args:
        frame: columns ``reported``, ``reproduced`` and ``hue`` (e.g. the part of the
            book each number belongs to).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 5.2))
    low = min(frame["reported"].min(), frame["reproduced"].min(), 0.0)
    high = max(frame["reported"].max(), frame["reproduced"].max(), 100.0)
    line = np.array([low, high])
    ax.plot(line, line, color="0.3", lw=1, label="same as the report")
    ax.fill_between(line, line - band, line + band, color="0.85", lw=0,
                    label=f"within {band} points")
    sns.scatterplot(data=frame, x="reported", y="reproduced", hue=hue, ax=ax, s=28,
                    alpha=0.85, edgecolor="white", linewidth=0.4)
    ax.set(xlim=(low, high), ylim=(low, high), aspect="equal",
           xlabel="reported accuracy (%)", ylabel="reproduced accuracy (%)")
    ax.legend(loc="upper left", fontsize=7)
    return ax.figure
