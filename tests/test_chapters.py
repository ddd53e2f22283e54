"""The committed chapter notebooks are well-formed: listed, stripped, parameterised.

Reads the notebooks only (no execution); executing them under ``smoke`` is
test_book.py's job.
"""

from pathlib import Path

import nbformat
import pytest
import torch

from coursekit import models, runner
from coursekit.book import report

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_every_chapter_notebook_is_in_the_table_of_contents():
    listed = {c.path.resolve() for c in runner.list_chapters(ROOT)}
    assert listed == {p.resolve() for p in CHAPTERS}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_stripped_with_a_parsable_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name} has outputs: strip them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one 'parameters' cell"
    for line in tagged[0].source.splitlines():
        comment = line.split("#", 1)[1] if "#" in line else ""
        # papermill reads "x = 1  # a = b" as a second assignment and drops x
        assert "=" not in comment, f"{path.name}: '=' in a parameter comment: {line}"
    meta = nb.metadata["coursekit"]
    assert {"smoke", "cpu", "gpu"} <= set(meta["profiles"])
    assert tagged[0].source.startswith('profile = "cpu"')


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_follows_the_book_shape(path: Path):
    """Opens with what it reproduces, keeps its bookkeeping in one Chapter object, shows
    the claims of every experiment it reproduces, draws in the book's style and ends
    with what we learned."""
    nb = nbformat.read(path, as_version=4)
    chapter = runner.read_chapter(path)
    head = " ".join(c.source for c in nb.cells[:6])
    assert "{admonition} Reproduces" in head, f"{path.name}: no 'Reproduces' box on top"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "ch = Chapter(globals())" in code and 'Chapter("' not in code, \
        f"{path.name}: its bookkeeping belongs to coursekit.chapter.Chapter, which " \
        "takes the chapter's id from the notebook, so a fork need not edit any cell"
    assert "plots.use_book_style()" in code, f"{path.name}: not in the book's style"
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source == runner.colab_cell(), \
        f"{path.name}: its first cell must be coursekit.runner.colab_cell() (copy it from " \
        "another chapter): the book's repository URL lives in coursekit.REPOSITORY only"
    assert {runner.COLAB_TAG, "remove-cell"} <= set(first.metadata.get("tags", []))
    for experiment in chapter.experiments:
        assert f'ch.claims("{experiment}"' in code, \
            f"{path.name}: shows no claims table for {experiment}"
    assert "ch.finish(" in code and "ch.summary()" in code
    closing = [c.source for c in nb.cells if c.cell_type == "markdown"][-3:]
    assert any("what we learned" in s.lower() for s in closing), \
        f"{path.name}: does not end with what we learned"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_defines_no_functions_and_no_verdicts(path: Path):
    """Training and verdicts are library code with tests: no notebook defines a
    function, writes its own record or builds a claims table by hand."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    defined = [line for line in code.splitlines()
               if line.lstrip().startswith(("def ", "class ", "lambda"))
               or " lambda " in line or "=lambda" in line]
    assert not defined, f"{path.name} defines code the library should hold: {defined}"
    for old in ("write_run_record(", "claims_table(", "profile_note(", "settings = dict("):
        assert old not in code, f"{path.name} still calls {old}: use ch = Chapter(...)"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_untested_claims_name_real_claims_and_say_why(path: Path):
    from coursekit.book import claims
    chapter = runner.read_chapter(path)
    for profile, entries in chapter.untested.items():
        for key, why in entries.items():
            experiment, _, claim_id = key.partition(".")
            assert experiment in chapter.experiments, f"{path.name}: {key}"
            assert claim_id in {c.id for c in claims.claims(experiment)}, \
                f"{path.name}: untested.{profile} names no claim {key}"
            assert len(why) > 20, f"{path.name}: say why {key} is not tested"


SEEDED = [p for p in CHAPTERS if "seeds" in runner.read_parameters(runner.read_chapter(p))]


def test_the_chapters_over_seeds_are_found():
    """SEEDED, which the next test runs over, finds the chapters that train per seed."""
    assert {runner.read_chapter(p).id for p in SEEDED} >= {"B3", "B4", "E3"}


@pytest.mark.parametrize("path", SEEDED, ids=lambda p: p.stem)
def test_a_chapter_over_seeds_names_the_rivals_of_every_best_claim(path: Path):
    """A chapter that trains once per seed (a ``seeds`` parameter: B3, B4, E3) keeps every
    run ("lstm, seed 0") in its results beside the means the claims read; a ``best``
    check without ``among`` would rank a mean against single runs."""
    from coursekit.book import claims
    chapter = runner.read_chapter(path)
    unnamed = [f"{experiment}.{claim.id}" for experiment in chapter.experiments
               for claim in claims.claims(experiment)
               if claim.check.get("kind") == "best" and not claim.check.get("among")]
    assert not unnamed, f"{path.name}: give {unnamed} an `among` list"


RULED = ("num_epochs", "batch_size", "lr", "seed", "width", "train_subset", "variants")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_profile_passes_the_parameter_rules(path: Path):
    """A typo or an out-of-range value in a profile (gpu included, which no machine
    here runs) fails here, with the checks a `-p` value gets; and the parameters a
    reader is most likely to change carry a rule."""
    chapter = runner.read_chapter(path)
    for profile in ("smoke", "cpu", "gpu"):
        runner.resolve_parameters(chapter, profile)
    params = runner.read_parameters(chapter)
    missing = [n for n in RULED if n in params and not params[n].rule]
    assert not missing, f"{path.name}: give {missing} a [rule] in their comments"


def _gpu_image_models(chapter_id: str, params: dict) -> list[tuple[str, dict, tuple]]:
    """(model, build keywords, one image's shape) of every image network a chapter
    builds under its gpu parameters (the text models are built in test_models)."""
    width = {"width": params["width"]} if "width" in params else {}
    tin = {"num_classes": 200, "image_size": 64}
    a1 = list(report.reported("A1").index)
    a3 = list(report.reported("A3").index)
    return {
        "A1": [(m, {"num_classes": 10}, (3, 32, 32)) for m in a1],
        "A2": [(m, tin, (3, 64, 64)) for m in report.reported("A2").index],
        "D1": [("compact_cnn", {}, (3, 32, 32))],
        "B1": [(m, {"num_classes": 3, **width}, (3, 64, 64))
               for m in ("vgg13", "vgg13_l2", "vgg13_dropout")],
        "B2": [(m, {"num_classes": 3, **width}, (3, 64, 64))
               for m in ("resnet18", "resnet18_dropout")],
        "A3": [(m, {"num_classes": 10, **width}, (3, 32, 32)) for m in a3]
              + [(m, {"num_classes": 200, **width}, (3, 64, 64)) for m in a3],
        "A5": [(params.get("resnet", "super_resnet34"), {"num_classes": c, **width}, s)
               for c, s in ((10, (3, 32, 32)), (200, (3, 64, 64)))],
        "A6": [(params.get("model", ""), tin, (3, 64, 64))],
        "C4": [(m, {"num_classes": 10, "embed_dim": 128, **width}, (3, 64, 64))
               for m in ("resnet18_ce", "resnet18_triplet", "resnet18_center")],
    }.get(chapter_id, [])


def _gpu_sequence_models(chapter_id: str, params: dict) -> list[tuple[str, dict, tuple]]:
    """(model, build keywords, inputs) of the recurrent networks whose size a chapter's
    gpu parameters set (vocabulary sizes stand in for the data's)."""
    texts = (torch.zeros(2, 7, dtype=torch.long), torch.tensor([7, 3]))
    if chapter_id == "C2":
        return [(m, {"vocab_size": 1000}, texts) for m in
                ("text_rnn", "text_lstm", "text_lstm_2layer", "text_bilstm")] + [
            ("sentiment_lstm", {"vocab_size": 1001, "hidden_size": params["report_a_hidden"]},
             texts)]
    if chapter_id == "A8":
        words = (torch.zeros(2, params["window"], dtype=torch.long),)
        return [(m, {"vocab_size": 1000, "embed_dim": w, "hidden_size": w}, words)
                for m, w in (("word_lm_1", params["width_1"]), ("word_lm_2", params["width_2"]))]
    if chapter_id == "A10":  # built only: decoding reads lengths, which meta tensors lack
        return [(m, {"src_vocab": 100, "tgt_vocab": 90, "hidden_size": params["hidden_size"]},
                 None) for m in ("seq2seq_gru", "seq2seq_lstm", "seq2seq_attention")]
    return []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_gpu_sequence_network_builds_and_runs_on_the_meta_device(path: Path):
    """The recurrent networks at the widths of each chapter's gpu parameters (report A's
    256 and 1,024 units, its 256-unit sentiment LSTM), built and run on the meta device."""
    chapter = runner.read_chapter(path)
    params = runner.resolve_parameters(chapter, "gpu")
    for name, kwargs, inputs in _gpu_sequence_models(chapter.id, params):
        with torch.device("meta"):
            model = models.build_model(name, **kwargs).eval()
            if inputs is not None:
                assert model(*inputs).shape[0] == 2, (chapter.id, name)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_gpu_image_network_builds_and_runs_on_the_meta_device(path: Path):
    """The reports' full-width networks under each chapter's gpu parameters, built and
    run on the meta device (no memory, no arithmetic), so a gpu profile that names a
    wrong model or width, or a network that cannot take 200 classes of 64 x 64 images,
    fails here and not on someone's GPU."""
    chapter = runner.read_chapter(path)
    params = runner.resolve_parameters(chapter, "gpu")
    for name, kwargs, shape in _gpu_image_models(chapter.id, params):
        with torch.device("meta"):
            model = models.build_model(name, **kwargs).eval()
            logits = model(torch.empty(2, *shape))
        assert logits.shape == (2, kwargs.get("num_classes", 10)), (chapter.id, name)
