"""coursekit.diagnostics."""

import pandas as pd
import pytest

from coursekit import diagnostics


def test_add_chance_ratios_on_10_and_200_classes():
    results = pd.DataFrame({"train_acc": [15.0], "val_acc": [0.75]})
    ten = diagnostics.add_chance_ratios(results, 10)
    assert ten.loc[0, "train_acc_over_chance"] == pytest.approx(1.5)
    two_hundred = diagnostics.add_chance_ratios(results, 200)
    assert two_hundred.loc[0, "val_acc_over_chance"] == pytest.approx(1.5)
    assert "test_acc_over_chance" not in two_hundred


def test_add_chance_ratios_rejects_one_class():
    with pytest.raises(ValueError, match="at least 2"):
        diagnostics.add_chance_ratios(pd.DataFrame({"val_acc": [1.0]}), 1)
