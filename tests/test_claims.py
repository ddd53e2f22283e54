"""The reports' claims: every kind of check holds and fails on hand-made results, and
every claim in reported.yaml is well formed."""

import pandas as pd
import pytest

from coursekit.book import claims, report

RESULTS = {"bn": {"acc": 61.0, "loss": 0.9, "answer": "28 x 24 x 10"},
           "plain": {"acc": 59.5, "loss": 1.1},
           "dropout": {"acc": 47.0, "loss": 1.4},
           "wrong_init": {"acc": 10.2, "loss": 2.31}}

# (check, holds on RESULTS): a passing and a failing case for every kind
CASES = [
    ({"kind": "greater", "a": "bn", "b": "plain", "metric": "acc"}, True),
    ({"kind": "greater", "a": "plain", "b": "bn", "metric": "acc"}, False),
    ({"kind": "greater", "a": "bn", "b": "plain", "metric": "acc", "margin": 2}, False),
    ({"kind": "less", "a": "bn", "b": "plain", "metric": "loss"}, True),
    ({"kind": "less", "a": "dropout", "b": "plain", "metric": "loss"}, False),
    ({"kind": "less", "a": "bn", "b": "plain", "metric": "loss", "margin": 0.5}, False),
    # margin_pct: bn leads plain by 1.5 points of 59.5 (2.5 %) and by 0.2 of 1.1 (18 %)
    ({"kind": "greater", "a": "bn", "b": "plain", "metric": "acc", "margin_pct": 2}, True),
    ({"kind": "greater", "a": "bn", "b": "plain", "metric": "acc", "margin_pct": 3}, False),
    ({"kind": "less", "a": "bn", "b": "plain", "metric": "loss", "margin_pct": 15}, True),
    ({"kind": "less", "a": "bn", "b": "plain", "metric": "loss", "margin_pct": 20}, False),
    ({"kind": "best", "variant": "bn", "metric": "acc", "margin_pct": 2}, True),
    ({"kind": "best", "variant": "bn", "metric": "acc", "margin_pct": 3}, False),
    ({"kind": "best", "variant": "bn", "metric": "loss", "lower_is_better": True,
      "margin_pct": 20}, False),
    ({"kind": "order", "variants": ["bn", "plain", "dropout"], "metric": "acc"}, True),
    ({"kind": "order", "variants": ["plain", "bn", "dropout"], "metric": "acc"}, False),
    ({"kind": "order", "variants": ["bn", "plain"], "metric": "loss",
      "descending": False}, True),
    ({"kind": "order", "variants": ["plain", "bn"], "metric": "loss",
      "descending": False}, False),
    ({"kind": "best", "variant": "bn", "metric": "acc"}, True),
    ({"kind": "best", "variant": "plain", "metric": "acc"}, False),
    ({"kind": "best", "variant": "plain", "metric": "acc",
      "among": ["plain", "dropout"]}, True),
    ({"kind": "best", "variant": "bn", "metric": "loss", "lower_is_better": True}, True),
    ({"kind": "best", "variant": "plain", "metric": "loss", "lower_is_better": True},
     False),
    ({"kind": "at_least", "variant": "bn", "metric": "acc", "value": 60}, True),
    ({"kind": "at_least", "variant": ["bn", "dropout"], "metric": "acc", "value": 40},
     True),
    ({"kind": "at_least", "variant": ["bn", "dropout"], "metric": "acc", "value": 50},
     False),
    ({"kind": "at_most", "variant": "wrong_init", "metric": "acc", "value": 15}, True),
    ({"kind": "at_most", "variant": "dropout", "metric": "acc", "value": 15}, False),
    ({"kind": "near", "variant": "wrong_init", "metric": "loss", "value": 2.303,
      "tol": 0.1}, True),
    ({"kind": "near", "variant": "dropout", "metric": "loss", "value": 2.303,
      "tol": 0.1}, False),
    ({"kind": "equals", "variant": "bn", "metric": "answer", "value": "28 x 24 x 10"},
     True),
    ({"kind": "equals", "variant": "bn", "metric": "answer", "value": "30 x 26 x 10"},
     False),
]


@pytest.mark.parametrize("check,holds", CASES)
def test_every_kind_holds_and_fails(check, holds):
    outcome = claims.run_check(check, RESULTS)
    assert outcome.holds is holds
    assert outcome.measured  # says what it compared


def test_every_kind_has_a_failing_case():
    failing = {check["kind"] for check, holds in CASES if not holds}
    assert failing == set(claims.CHECKS)


def test_a_dataframe_by_variant_works_like_a_mapping():
    frame = pd.DataFrame(RESULTS).T
    assert claims.run_check(CASES[0][0], frame).holds is True


@pytest.mark.parametrize("results", [
    {"bn": {"acc": 61.0}},                                  # variant missing
    {"bn": {"acc": 61.0}, "plain": {"loss": 1.0}},          # metric missing
    {"bn": {"acc": 61.0}, "plain": {"acc": float("nan")}},  # no value
])
def test_a_missing_value_means_not_tested(results):
    check = {"kind": "greater", "a": "bn", "b": "plain", "metric": "acc"}
    outcome = claims.run_check(check, results)
    assert outcome.holds is None and outcome.missing == ("plain.acc",)


def test_a_tie_is_not_the_best():
    check = {"kind": "best", "variant": "L1", "metric": "acc", "lower_is_better": True}
    outcome = claims.run_check(check, {"L1": {"acc": 10.0}, "L2": {"acc": 10.0},
                                       "base": {"acc": 93.0}})
    assert outcome.holds is False and outcome.measured == "L1: 10; L2: 10"


def test_best_of_a_run_without_rivals_is_not_tested():
    # a seed run that trained only the named variant has nothing to be best against
    check = {"kind": "best", "variant": "bn", "metric": "acc"}
    outcome = claims.run_check(check, {"bn": {"acc": 61.0}, "plain": {"loss": 1.0}})
    assert outcome.holds is None
    assert outcome.measured == "acc of any other variant not measured in this run"


@pytest.mark.parametrize("check,message", [
    ({"kind": "bigger", "a": "x", "b": "y", "metric": "acc"}, "unknown check kind"),
    ({"a": "x", "b": "y"}, "unknown check kind"),
    ({"kind": "greater", "a": "x", "metric": "acc"}, "needs b"),
    ({"kind": "near", "variant": "x", "metric": "acc", "value": 1}, "needs tol"),
    ({"kind": "order", "variants": ["x"], "metric": "acc"}, "two variants or more"),
])
def test_malformed_checks_are_refused_with_what_is_wrong(check, message):
    with pytest.raises(ValueError, match=message):
        claims.run_check(check, RESULTS)


def test_describe_reads_like_the_check():
    assert claims.describe(CASES[0][0]) == "acc: bn > plain"
    near = next(check for check, _ in CASES if check["kind"] == "near")
    assert claims.describe(near) == "loss of wrong_init = 2.3 ± 0.1"
    assert claims.describe({"kind": "best", "variant": "bn", "metric": "loss",
                            "lower_is_better": True}) == "loss: bn lowest"


def _fake_experiment(monkeypatch, entries):
    """Make report.experiment("X1") return a hand-made entry with these claims."""
    real = report.experiment
    monkeypatch.setattr(report, "experiment",
                        lambda i: {"claims": entries} if i == "X1" else real(i))


def test_evaluate_gives_each_verdict(monkeypatch):
    _fake_experiment(monkeypatch, [
        {"id": "holds", "says": "BN helps", "where": "T1", "check": CASES[0][0]},
        {"id": "fails", "says": "plain wins", "where": "T1", "check": CASES[1][0]},
        {"id": "missing", "says": "resnet wins", "where": "T2",
         "check": {"kind": "greater", "a": "resnet", "b": "bn", "metric": "acc"}},
        {"id": "scale", "says": "BN by 1 point", "where": "T1", "check": CASES[0][0]},
        {"id": "self", "says": "dropout best", "where": "s4",
         "contradicted": "s4 says best, Table 1 gives the lowest",
         "check": {"kind": "best", "variant": "dropout", "metric": "acc"}},
    ])
    rows = claims.evaluate("X1", RESULTS, profile="cpu",
                           untested={"scale": "needs 200 epochs"})
    assert list(rows["verdict"]) == [claims.HOLDS, claims.FAILS, claims.UNTESTED,
                                     claims.UNTESTED, claims.CONTRADICTED]
    assert rows.loc[3, "note"] == "needs 200 epochs"
    assert "would not hold" in rows.loc[4, "we measured"]
    assert rows.loc[4, "note"].startswith("s4 says")
    assert claims.tally(rows) == {claims.HOLDS: 1, claims.FAILS: 1, claims.UNTESTED: 2,
                                  claims.CONTRADICTED: 1}
    html = claims.style_claims(rows).to_html()
    assert "does not hold" in html and "#b00020" in html
    assert 'class="coursekit-claims"' in html


def test_a_claim_whose_requirement_fails_is_not_tested(monkeypatch):
    # wrong_init (10.2 %) learned nothing: its small loss gap says nothing
    learned = {"kind": "at_least", "metric": "acc", "value": 20}
    gap = {"kind": "less", "a": "wrong_init", "b": "bn", "metric": "loss"}
    _fake_experiment(monkeypatch, [
        {"id": "vacuous", "says": "x", "where": "y", "check": {**gap},
         "requires": {**learned, "variant": "wrong_init"}},
        {"id": "meaningful", "says": "x", "where": "y",
         "check": {**gap, "a": "plain"}, "requires": {**learned, "variant": "plain"}}])
    rows = claims.evaluate("X1", RESULTS, profile="cpu").set_index("claim")
    assert rows.loc["vacuous", "verdict"] == claims.UNTESTED
    assert "acc of wrong_init >= 20" in rows.loc["vacuous", "note"]
    assert "10.2" in rows.loc["vacuous", "note"]
    assert rows.loc["meaningful", "verdict"] == claims.FAILS  # plain's loss is higher


def test_a_malformed_requirement_is_refused(monkeypatch):
    _fake_experiment(monkeypatch, [{"id": "a", "says": "x", "where": "y",
                                    "check": CASES[0][0], "requires": {"kind": "nope"}}])
    with pytest.raises(ValueError, match="requires"):
        claims.claims("X1")


def test_style_claims_writes_a_shared_note_once():
    rows = pd.DataFrame({
        "claim": ["a", "b", "c", "d", "e"], "the report says": ["v", "w", "x", "y", "z"],
        "verdict": [claims.UNTESTED, claims.HOLDS, claims.UNTESTED, claims.UNTESTED,
                    claims.FAILS],
        "note": ["needs 200 epochs", "", "needs 200 epochs", "needs a GPU",
                 "needs 200 epochs"]})
    shown = claims.style_claims(rows).data
    # "as above" only where the nearest note above is the same one
    assert list(shown["note"]) == ["needs 200 epochs", "", claims.SAME_NOTE, "needs a GPU",
                                   "needs 200 epochs"]
    assert list(rows["note"])[2] == "needs 200 epochs"  # the rows themselves keep theirs


def test_style_claims_escapes_html_and_shows_code():
    rows = pd.DataFrame({"the report says": ["predicts <unk>"], "verdict": [claims.UNTESTED],
                         "note": ["needs `--profile gpu`"]})
    page = claims.style_claims(rows).to_html()
    assert "predicts &lt;unk&gt;" in page and "<unk>" not in page
    assert "needs <code>--profile gpu</code>" in page


@pytest.mark.parametrize("entry,message", [
    ({"says": "x", "where": "y", "check": CASES[0][0]}, "missing id"),
    ({"id": "a", "where": "y", "check": CASES[0][0]}, "missing says"),
    ({"id": "a", "says": "x", "where": "y", "check": {"kind": "nope"}}, "unknown check"),
])
def test_malformed_claims_are_refused(monkeypatch, entry, message):
    _fake_experiment(monkeypatch, [entry])
    with pytest.raises(ValueError, match=message):
        claims.claims("X1")


def test_a_claim_id_is_used_once(monkeypatch):
    claim = {"id": "a", "says": "x", "where": "y", "check": CASES[0][0]}
    _fake_experiment(monkeypatch, [claim, claim])
    with pytest.raises(ValueError, match="used twice"):
        claims.claims("X1")


def test_tally_refuses_an_unknown_verdict():
    with pytest.raises(ValueError, match="unknown verdicts"):
        claims.tally([{"verdict": "yes"}])


SEED_IDS = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10",
            "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5", "C6",
            "D1", "D2", "E1", "E2", "E3"]


@pytest.mark.parametrize("experiment_id", SEED_IDS)
def test_every_seed_experiment_lists_its_claims(experiment_id):
    found = claims.claims(experiment_id)  # validates every check
    assert found, f"{experiment_id} lists no claims in reported.yaml"
    for claim in found:
        assert claim.says.strip() and claim.where.strip()


def test_margin_pct_is_described_shown_and_checked():
    check = {"kind": "best", "variant": "bn", "metric": "loss", "lower_is_better": True,
             "margin_pct": 3}
    assert claims.describe(check) == "loss: bn lowest by more than 3 %"
    assert claims.run_check(check, RESULTS).measured == "bn: 0.9; plain: 1.1"  # the rival too
    for bad, message in [({**check, "margin_pct": -1}, "from 0 to below 100"),
                         ({**check, "margin_pct": "3"}, "from 0 to below 100"),
                         ({**check, "margin": 0.1}, "not both"),
                         ({"kind": "at_least", "variant": "bn", "metric": "acc",
                           "value": 1, "margin_pct": 3}, "not 'at_least'")]:
        with pytest.raises(ValueError, match=message):
            claims.validate(bad)
