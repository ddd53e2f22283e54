"""Reported numbers, comparison tables and run records."""

import json

import pandas as pd
import pytest

from coursekit.book import report


def test_report_a_table_1_is_on_file():
    table = report.reported("A1")
    assert len(table) == 7
    assert table.loc["super_lenet", "test_acc"] == 66.00
    assert table.loc["lenet_bn", "num_parameters"] == 62458


def test_unknown_experiment_lists_known_ids():
    with pytest.raises(KeyError, match="'Z9'.*A1"):
        report.reported("Z9")


def test_comparison_has_one_row_per_reported_number_and_marks_shortfalls():
    ours = pd.DataFrame({"test_acc": {"lenet": 57.0, "lenet_bn": 60.5},
                         "num_parameters": {"lenet": 62006, "lenet_bn": 62458}})
    table = report.comparison_table("A1", ours, profile="cpu")
    assert len(table) == 7 * 2  # every reported variant, metrics both sides have
    lenet = table[(table.variant == "LeNet") & (table.metric == "test accuracy (%)")]
    assert lenet.difference.item() == pytest.approx(57.0 - 58.98)
    assert lenet.short.item()  # 1.98 points below the report
    bn = table[(table.variant == "LeNetBN") & (table.metric == "test accuracy (%)")]
    assert not bn.short.item()
    missing = table[table.variant == "LeNetDp"]
    assert missing.reproduced.isna().all()
    assert set(table.profile) == {"cpu"}
    html = report.style_comparison(table).to_html()
    assert "n/a" in html and "#b00020" in html


def test_comparison_leaves_out_numbers_the_report_does_not_give():
    # report A's Table 6 gives Tiny ImageNet runs no test accuracy: no row, not "n/a"
    ours = pd.DataFrame({"test_acc": {"cifar10/lenet/kaiming": 60.0,
                                      "tiny_imagenet/lenet/kaiming": 1.0}})
    table = report.comparison_table("A5", ours, profile="cpu")
    assert table.reported.notna().all()
    assert not table.variant.str.contains("Tiny ImageNet").any()
    assert "SuperLeNet" in " ".join(table.variant)


def test_fact_formats_a_result_or_says_it_is_missing():
    results = pd.DataFrame({"test_acc": [55.634, float("nan")]}, index=["lenet", "lenet_bn"])
    assert report.fact(results, "lenet", "test_acc") == "55.63"
    assert report.fact(results, "lenet", "test_acc", ".0f") == "56"
    assert report.fact(results, "lenet_bn", "test_acc") == "n/a"   # no value
    assert report.fact(results, "lenet_dp", "test_acc") == "n/a"   # variant not run
    assert report.fact(results, "lenet", "time_s") == "n/a"        # no such column


def test_select_variants():
    assert report.select_variants("A1", "all")[0] == "lenet"
    assert report.select_variants("A1", "super_lenet, lenet") == ["super_lenet", "lenet"]
    with pytest.raises(ValueError, match="no variant 'resnet'"):
        report.select_variants("A1", "lenet,resnet")


def test_run_record_goes_to_the_run_dir(tmp_path):
    path = report.write_run_record("A1", profile="smoke", params={"seed": 0},
                                   results={"lenet": {"test_acc": 50.0}},
                                   run_dir=tmp_path / "runs" / "A1")
    record = json.loads(path.read_text())
    assert path == tmp_path / "runs" / "A1" / "record.json"
    assert set(record) >= {"chapter", "profile", "params", "results", "environment",
                           "timings", "created"}
    assert record["environment"]["torch"]
    assert not list(path.parent.glob("*.tmp"))


def test_an_experiment_of_claims_only_has_no_numbers_table():
    with pytest.raises(KeyError, match="only claims"):
        report.reported("E3")


def test_run_record_keeps_the_comparison_rows_for_the_scoreboard(tmp_path):
    ours = pd.DataFrame({"test_acc": [60.0]}, index=["super_lenet"])
    table = report.comparison_table("A1", ours, profile="smoke", metrics=["test_acc"])
    path = report.write_run_record("A1", profile="smoke", params={}, results={},
                                   comparison=table, run_dir=tmp_path)
    rows = json.loads(path.read_text())["comparison"]
    assert len(rows) == len(report.reported("A1"))
    row = next(r for r in rows if r["reproduced"] is not None)
    assert row["reproduced"] == 60.0 and row["metric"] == "test accuracy (%)"
    missing = next(r for r in rows if r["reproduced"] is None)  # NaN is stored as null
    assert missing["difference"] is None


def test_numbers_of_another_machine_are_shown_never_compared():
    shown = report.shown_table("A3")
    assert shown.loc["SuperResNet with Proper weight Initialization", "GPU time (s)"] == 13853.55
    assert list(shown.columns) == ["GPU time (s)", "GPU utilization (%)", "GPU memory (GB)"]
    ours = pd.DataFrame({"test_acc": [60.0], "gpu_time_s": [10.0]}, index=["lenet"])
    table = report.comparison_table("A1", ours, profile="cpu")
    assert set(table["metric"]) == {"test accuracy (%)"}  # GPU time is not compared
    assert report.shown_table("C1") is None
    assert "Base VGG 13" not in report.shown_table("B1").index  # no base test loss
