"""fit, evaluate and the device loader on small generated data (CPU, seconds)."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from coursekit import models, training
from coursekit.training.loader import DeviceLoader, channel_stats


def separable(n: int = 256, seed: int = 0) -> SimpleNamespace:
    """8 x 8 uint8 images whose class (0 or 1) is which half of the image is bright."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randint(0, 60, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    bright = torch.zeros(n, 3, 8, 8, dtype=torch.bool)
    bright[labels == 0, :, :4] = True
    bright[labels == 1, :, 4:] = True
    images = images + bright.to(torch.uint8) * 150
    return SimpleNamespace(images=images, labels=labels)


def tiny_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Dropout(0.1), nn.Linear(4 * 8 * 8, 2))


FAST = dict(batch_size=32, lr=3e-3, verbose=False, progress=False)


def test_fit_learns_a_separable_problem():
    data = separable()
    torch.manual_seed(0)
    history = training.fit(tiny_model(), data, separable(seed=1), num_epochs=4, **FAST)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 95
    assert history.epoch == [1, 2, 3, 4]
    assert history.throughput > 0 and history.peak_memory_mb > 0
    assert history.device == "cpu"


def test_same_seed_same_numbers():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        h = training.fit(tiny_model(), separable(), separable(seed=1), num_epochs=2,
                         augment="flip_crop", **FAST)
        runs.append((h.train_loss, h.val_loss))
    assert runs[0] == runs[1]


def test_early_stopping_restores_the_best_epoch():
    model = tiny_model()
    # a learning rate far too high makes the validation loss rise after epoch 1
    history = training.fit(model, separable(), separable(seed=1), num_epochs=20,
                           early_stopping_patience=2, **{**FAST, "lr": 5.0})
    assert history.stopped_early
    assert len(history.epoch) == history.best_epoch + 2
    best = min(history.val_loss)
    assert training.evaluate(model, separable(seed=1))["loss"] == pytest.approx(best, rel=1e-5)


def test_checkpoint_resume_gives_the_same_result_as_one_run(tmp_path):
    data, val = separable(), separable(seed=1)
    torch.manual_seed(0)
    straight = training.fit(tiny_model(), data, val, num_epochs=3, **FAST)

    ckpt = tmp_path / "run.ckpt"
    torch.manual_seed(0)
    model = tiny_model()
    training.fit(model, data, val, num_epochs=2, checkpoint_path=str(ckpt), **FAST)
    torch.manual_seed(123)  # a "new process": the checkpoint must restore every RNG
    resumed_model = tiny_model()
    resumed = training.fit(resumed_model, data, val, num_epochs=3,
                           checkpoint_path=str(ckpt), **FAST)
    assert resumed.epoch == [1, 2, 3]
    assert resumed.train_loss == pytest.approx(straight.train_loss)
    assert resumed.val_loss == pytest.approx(straight.val_loss)


def test_checkpoint_from_another_configuration_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    training.fit(tiny_model(), separable(), num_epochs=1, checkpoint_path=str(ckpt), **FAST)
    with pytest.raises(ValueError, match="another configuration"):
        training.fit(tiny_model(), separable(), num_epochs=2, checkpoint_path=str(ckpt),
                     **{**FAST, "lr": 0.1})


def test_unknown_config_key_and_optimizer_are_refused():
    with pytest.raises(TypeError, match="num_epoch"):
        training.fit(tiny_model(), separable(), num_epoch=1)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        training.fit(tiny_model(), separable(), optimizer="lbfgs", **FAST)


def test_evaluate_counts_over_the_whole_split():
    data = separable(n=100)
    model = tiny_model()
    models.set_input_norm(model, *channel_stats(data.images))
    full = training.evaluate(model, data, batch_size=100)
    chunked = training.evaluate(model, data, batch_size=7)  # uneven last batch
    assert chunked["acc"] == pytest.approx(full["acc"])
    assert chunked["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert model.training  # evaluate restores the mode


def test_cosine_schedule_ends_at_zero():
    assert training.lr_factor("cosine", 0, 100) == 1.0
    assert training.lr_factor("cosine", 100, 100) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="lr_schedule 'step'"):
        training.lr_factor("step", 0, 10)


def test_loader_normalises_and_covers_every_image_once():
    data = separable(n=70)
    mean, std = channel_stats(data.images)
    loader = DeviceLoader(data, 32, mean, std, device=torch.device("cpu"), shuffle=True,
                          generator=torch.Generator().manual_seed(0))
    batches = list(loader)
    assert [len(y) for _, y in batches] == [32, 32, 6]
    inputs = torch.cat([x for x, _ in batches])
    assert inputs.dtype == torch.float32
    assert inputs.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == sorted(data.labels.tolist())


def test_loader_rejects_float_images():
    data = SimpleNamespace(images=torch.rand(4, 3, 8, 8), labels=torch.zeros(4))
    with pytest.raises(ValueError, match="uint8"):
        DeviceLoader(data, 2, torch.zeros(3), torch.ones(3), device=torch.device("cpu"))


def test_epoch_lines_leave_out_validation_when_there_is_none(capsys):
    loud = {**FAST, "verbose": True}
    training.fit(tiny_model(), separable(), None, num_epochs=1, **loud)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("epoch 1/1  train loss") and "val" not in line and "nan" not in line
    training.fit(tiny_model(), separable(), separable(), num_epochs=1, **loud)
    assert "|  val loss" in capsys.readouterr().out


def test_fit_variants_applies_each_variants_recipe():
    g = torch.Generator().manual_seed(0)
    data = SimpleNamespace(images=torch.randint(0, 255, (64, 3, 32, 32), generator=g,
                                                dtype=torch.uint8),
                           labels=torch.randint(0, 3, (64,), generator=g))
    variants = ["lenet", training.Variant("short", "lenet", {"num_epochs": 1}),
                training.Variant("l2", "lenet_l2")]
    runs = training.fit_variants(variants, data, data, None,
                                 training.FitConfig(num_epochs=2, **FAST), num_classes=3)
    assert list(runs.results.index) == ["lenet", "short", "l2"]
    assert runs.results.loc["short", "epochs"] == 1
    assert runs.results.loc["lenet", "epochs"] == 2
    assert runs.results["test_acc"].isna().all()  # no test split given
    assert set(runs.histories) == set(runs.trained) == {"lenet", "short", "l2"}


def test_fit_over_seeds_trains_every_variant_once_per_seed_on_the_same_data(capsys):
    g = torch.Generator().manual_seed(0)
    data = SimpleNamespace(images=torch.randint(0, 255, (64, 1, 32, 32), generator=g,
                                                dtype=torch.uint8),
                           labels=torch.randint(0, 10, (64,), generator=g))
    recipe = training.FitConfig(num_epochs=1, **FAST)
    variants = ["mlp", training.Variant("pinned", "mlp", {"seed": 7})]
    runs = training.fit_over_seeds(variants, data, data, data, recipe, [3, 0])
    assert list(runs) == [3, 0]
    first = {seed: r.results["initial_loss"] for seed, r in runs.items()}
    assert first[3]["mlp"] != first[0]["mlp"]          # new weights for each seed
    assert first[3]["pinned"] == first[0]["pinned"]    # a variant's own seed wins
    again = training.fit_variants(variants, data, data, data, training.FitConfig(
        num_epochs=1, seed=0, **FAST))
    assert again.results["test_acc"].equals(runs[0].results["test_acc"])
    training.fit_over_seeds(["mlp"], data, data, None, training.FitConfig(
        num_epochs=1, batch_size=32, progress=False), [3, 0])
    headings = [line.split(" (")[0] for line in capsys.readouterr().out.splitlines()
                if line.startswith(("===", "---"))]
    assert headings == ["=== seed 3", "--- mlp", "=== seed 0", "--- mlp"]
    for seeds in ([], [1, 1]):
        with pytest.raises(ValueError, match="one or more different seeds"):
            training.fit_over_seeds(variants, data, data, data, recipe, seeds)


def test_batch_larger_than_the_data_trains_on_the_full_batch():
    history = training.fit(tiny_model(), separable(64), None, num_epochs=3,
                           **{**FAST, "batch_size": 1000})
    assert len(history.step_loss) == 3           # one step per epoch
    assert history.step_loss[0] == pytest.approx(history.train_loss[0])


def test_step_losses_and_the_epoch_callback():
    seen = []
    history = training.fit(tiny_model(), separable(), None, num_epochs=2,
                           on_epoch_end=lambda model, h: seen.append(len(h.epoch)), **FAST)
    assert seen == [1, 2]
    assert len(history.step_loss) == 2 * (256 // 32)


def test_l1_penalty_shrinks_the_weights():
    sizes = {}
    for l1 in (0.0, 0.01):
        torch.manual_seed(0)
        model = tiny_model()
        training.fit(model, separable(), None, num_epochs=3, l1=l1, **FAST)
        sizes[l1] = sum(p.abs().sum().item() for p in model.parameters() if p.ndim > 1)
    assert sizes[0.01] < 0.8 * sizes[0.0]


def test_normalize_false_feeds_pixels_scaled_to_one():
    inputs = []
    probe = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    probe.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
    training.fit(probe, separable(), None, num_epochs=1, normalize=False, **FAST)
    assert inputs[0].min() >= 0 and inputs[0].max() <= 1 and inputs[0].max() > 0.5


def test_new_optimizers_by_name():
    for name in ("rmsprop", "adagrad", "gd"):
        history = training.fit(tiny_model(), separable(), None, num_epochs=1,
                               optimizer=name, **{**FAST, "lr": 1e-3})
        assert history.train_loss[0] > 0


def test_fit_variants_model_kwargs_watchers_and_initial_loss():
    from coursekit.training import diagnostics
    g = torch.Generator().manual_seed(0)
    data = SimpleNamespace(images=torch.randint(0, 255, (64, 1, 32, 32), generator=g,
                                                dtype=torch.uint8),
                           labels=torch.randint(0, 10, (64,), generator=g))
    variants = [training.Variant("sigmoid", "mlp", model_kwargs={"activation": "sigmoid"}),
                training.Variant("deep", "mlp", model_kwargs={"num_hidden": 5})]
    runs = training.fit_variants(variants, data, data, None,
                                 training.FitConfig(num_epochs=2, **FAST),
                                 watch=diagnostics.GradientRecorder)
    assert isinstance(runs.trained["sigmoid"].layers[2], nn.Sigmoid)
    layers = runs.watchers["deep"].to_frame()
    assert sorted(layers["layer"].unique()) == [1, 2, 3, 4, 5, 6]
    assert list(layers["epoch"].unique()) == [1, 2] and (layers["mean_abs_grad"] > 0).all()
    assert runs.results["initial_loss"].between(1.5, 3.5).all()  # near ln 10


def test_fit_and_evaluate_train_a_text_model_on_padded_ids():
    from coursekit.tasks import text
    from coursekit.models.text_rnn import TextRNN
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=g)
    docs = [["good" if y else "bad"] + ["the", "film"] * int(torch.randint(0, 4, (1,),
            generator=g)) for y in labels.tolist()]
    vocab = text.Vocabulary.build(docs)
    ids, lengths = text.encode(docs, vocab, max_len=9)
    data = SimpleNamespace(ids=ids, lengths=lengths, labels=labels)
    torch.manual_seed(0)
    model = TextRNN(len(vocab), embed_dim=8, hidden_size=8, cell="gru")
    history = training.fit(model, data, data, num_epochs=8, **FAST)
    assert history.val_acc[-1] == 100.0
    assert training.evaluate(model, data)["acc"] == 100.0
    with pytest.raises(ValueError, match="augment apply to images only"):
        training.fit(model, data, None, num_epochs=1, augment="flip", **FAST)


def test_a_variant_takes_weight_decay_and_augmentation_from_the_model():
    """A SuperResNet is report A's ResNet-34 with spatial dropout, weight decay 0.01 and
    its augmentation: the last two travel with the name, and a Variant can override them."""
    config = training.FitConfig(augment="flip", **FAST)
    variants = [training.Variant("resnet34", "resnet34"),
                training.Variant("super", "super_resnet34"),
                training.Variant("bare", "super_resnet34", {"augment": "none"}),
                training.Variant("built", lambda: tiny_model(), {"lr": 0.5})]
    recipes = [(v.recipe(config).weight_decay, v.recipe(config).augment) for v in variants]
    assert recipes == [(0.0, "flip"), (0.01, "flip_crop_jitter"), (0.01, "none"), (0.0, "flip")]
    assert variants[3].recipe(config).lr == 0.5 and variants[3].title == "built"


def test_fit_takes_an_objective_or_a_loss_fn_not_both():
    with pytest.raises(ValueError, match="either an objective or a loss_fn"):
        training.fit(tiny_model(), separable(), None, objective=training.Classification(),
                     loss_fn=lambda model, inputs, labels: (None, None), **FAST)


def test_several_processes_refuse_data_they_cannot_shard():
    from coursekit.training.distributed import ProcessGroup
    with pytest.raises(ValueError, match="one process"):
        ProcessGroup().shard((torch.zeros(4, 3, 1), torch.zeros(4)), seed=0)


def test_best_weights_are_kept_only_when_early_stopping_may_restore_them():
    for patience, kept in [(None, False), (3, True)]:
        best = training.callbacks.BestWeights(patience)
        history = training.History(epoch=[1], val_loss=[0.5])
        best.update(tiny_model(), history)
        assert history.best_epoch == 1 and (best.state is not None) == kept


def test_a_variant_stopped_early_reports_the_losses_of_the_epoch_it_kept():
    history = training.History(epoch=[1, 2, 3], train_loss=[3.0, 2.0, 1.0],
                               val_loss=[2.5, 2.0, 2.2], best_epoch=2, stopped_early=True)
    summary = training.Regression().summary(tiny_model(), history, {"test": None}, None)
    assert summary["train_loss"] == 2.0 and summary["val_loss"] == 2.0


def test_a_fresh_variant_is_the_model_fit_variants_starts_from():
    variant, config = training.Variant("mlp", "mlp"), training.FitConfig(seed=3)
    torch.manual_seed(99)  # whatever came before: the variant seeds itself
    first = variant.fresh(config, num_hidden=1, hidden_size=8)
    again = variant.fresh(config, num_hidden=1, hidden_size=8)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 again.state_dict().values()))


def test_step_times_times_copies_in_turns_and_ranks_by_cost():
    data = SimpleNamespace(images=torch.randint(0, 255, (256, 1, 32, 32), dtype=torch.uint8),
                           labels=torch.randint(0, 10, (256,)))
    small = models.build_model("mlp", hidden_size=8, num_hidden=1)
    large = models.build_model("mlp", hidden_size=1024, num_hidden=3)
    recipe = training.FitConfig(batch_size=256, **{k: v for k, v in FAST.items()
                                                   if k != "batch_size"})
    with pytest.raises(ValueError, match="has no input statistics"):
        training.step_times({"small": small}, data, recipe)  # as built, not as fit left it
    for model in (small, large):
        training.Classification().prepare(model, data, recipe, torch.device("cpu"))
    before = [p.detach().clone() for p in large.parameters()]
    ms = training.step_times({"small": small, "large": large}, data, recipe, rounds=5)
    assert list(ms) == ["small", "large"] and ms["small"] > 0
    assert ms["large"] > ms["small"]  # about 1,000 times the arithmetic
    assert all(torch.equal(a, b) for a, b in zip(before, large.parameters()))  # copies trained
    for bad in (dict(rounds=0), dict(warmup=-1)):
        with pytest.raises(ValueError, match="rounds must be at least 1"):
            training.step_times({"small": small}, data, recipe, **bad)
    with pytest.raises(ValueError, match="at least one model"):
        training.step_times({}, data, recipe)
