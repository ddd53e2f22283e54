"""The book's figures: what a reader would misread."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from coursekit.book import plots  # noqa: E402


def test_epoch_axes_tick_whole_epochs_only():
    frame = pd.DataFrame({"train_acc": [40.0, 55.0], "val_acc": [42.0, 50.0],
                          "train_loss": [1.6, 1.2], "val_loss": [1.5, 1.3]},
                         index=pd.Index([1, 2], name="epoch"))
    curves = plots.plot_curves({"lenet": frame})
    traces = plots.plot_traces({"lenet": frame}, x="epoch", y="val_loss")
    for ax in [*curves.axes, *traces.axes]:
        ax.figure.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
