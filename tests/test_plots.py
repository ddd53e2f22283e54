"""The book's figures: what a reader would misread."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from coursekit.book import plots  # noqa: E402


@pytest.mark.parametrize("epochs", [[1], [1, 2]])  # smoke runs train one epoch
def test_epoch_axes_tick_whole_epochs_only(epochs):
    n = len(epochs)
    frame = pd.DataFrame({"train_acc": [40.0] * n, "val_acc": [42.0] * n,
                          "train_loss": [1.6] * n, "val_loss": [1.5] * n},
                         index=pd.Index(epochs, name="epoch"))
    curves = plots.plot_curves({"lenet": frame})
    traces = plots.plot_traces({"lenet": frame}, x="epoch", y="val_loss")
    for ax in [*curves.axes, *traces.axes]:
        ax.figure.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_one_legend_below_the_panels_replaces_each_panels_own():
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2)
    frames = {name: pd.DataFrame({"step": [0, 1], "loss": [2.0, 1.0]}) for name in ("gd", "adam")}
    for ax in axes:
        plots.plot_traces(frames, ax=ax)
    plots.legend_below(fig, axes[0])
    assert all(ax.get_legend() is None for ax in axes)
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["gd", "adam"]
