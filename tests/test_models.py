"""Models: the reports' parameter counts and structure, the registry, initialisation."""

import math

import pytest
import torch

from coursekit import models
from coursekit.models import init

A1_COUNTS = {"lenet": 62006, "lenet_bn": 62458, "lenet_dp": 62006, "lenet_l2": 62006,
             "lenet_bn_dp": 62458, "super_lenet": 62458, "super_lenet_wrong_init": 62458}


@pytest.mark.parametrize("name,count", A1_COUNTS.items())
def test_parameter_counts_match_report_a_table_1(name, count):
    assert models.count_parameters(models.build_model(name)) == count


def small(name: str) -> dict:
    """Keyword arguments that make any registered model fast enough for a unit test."""
    if name.startswith("vgg"):
        return dict(width=0.125, image_size=32)
    if "resnet" in name:
        return dict(width=0.125)
    if name.startswith("mlp"):
        return dict(in_features=3 * 32 * 32)
    return {}


IMAGE_MODELS = [n for n in models.list_models() if models.get_spec(n).inputs == "images"]


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_model_maps_images_to_logits(name):
    model = models.build_model(name, num_classes=7, **small(name))
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 7)


def test_larger_images_and_grayscale_change_only_the_input_layers():
    model = models.build_model("lenet", num_classes=200, image_size=64, in_channels=1)
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 200)
    assert model.fc_model[0].in_features == 16 * 13 * 13


def test_printout_follows_the_report_figure_order():
    text = str(models.build_model("super_lenet"))
    order = ["Conv2d(3, 6", "LeakyReLU", "BatchNorm2d(6", "AvgPool2d", "Conv2d(6, 16",
             "BatchNorm2d(16", "Dropout(p=0.2", "Linear(in_features=400",
             "BatchNorm1d(120", "BatchNorm1d(84", "Linear(in_features=84, out_features=10"]
    positions = [text.index(token) for token in order]
    assert positions == sorted(positions)
    assert "(cnn_model): Sequential" in text and "(fc_model): Sequential" in text


def test_l2_variant_differs_only_in_weight_decay():
    assert models.get_spec("lenet_l2").weight_decay > 0
    assert models.get_spec("lenet").weight_decay == 0
    assert str(models.build_model("lenet_l2")) == str(models.build_model("lenet"))


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown model 'lenet_nb'.*'lenet_bn'"):
        models.build_model("lenet_nb")


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="num_clases"):
        models.build_model("lenet", num_clases=3)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="swish"):
        models.LeNet(activation="swish")


def test_kaiming_init_sets_bias_and_scale():
    torch.manual_seed(0)
    model = models.build_model("super_lenet")
    conv = model.cnn_model[0]
    assert torch.all(conv.bias == 0.01)
    fan_in = 3 * 5 * 5
    expected = math.sqrt(2 / (1 + 0.01**2) / fan_in)
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.25)


def test_large_gaussian_init_gives_a_huge_initial_loss():
    torch.manual_seed(0)
    inputs, labels = torch.randn(256, 3, 32, 32), torch.randint(0, 10, (256,))
    losses = {}
    for name in ("super_lenet", "super_lenet_wrong_init"):
        model = models.build_model(name).eval()
        losses[name] = torch.nn.functional.cross_entropy(model(inputs), labels).item()
    assert losses["super_lenet"] < 3.5          # near ln(10) = 2.303
    assert losses["super_lenet_wrong_init"] > 8  # report A: 18.45


def test_init_schemes_and_unknown_scheme():
    model = init.xavier_init(models.build_model("lenet"))
    assert torch.all(model.fc_model[0].bias == 0)
    with pytest.raises(ValueError, match="unknown init scheme 'he'"):
        init.apply_init(model, "he")


# ----------------------------------------------------------------------------------
# Compact CNN (report D), VGG-13 and ResNet-18 (report B), ResNet-34 (report A)

# (name, keyword arguments, count the report prints)
REPORT_COUNTS = [
    ("compact_cnn", {}, 49338),                       # report D, Q1
    ("resnet18", {}, 11175171),                       # report B, summary (3 classes)
    ("resnet18_dropout", {}, 11175171),
    ("resnet34", {}, 21286346),                       # report A, Table 3 (CIFAR-10)
    ("resnet34_dropout", {}, 21286346),
    ("super_resnet34", {}, 21286346),
    ("super_resnet34_wrong_init", {}, 21286346),
    ("resnet34", {"num_classes": 200}, 21383816),     # report A, Table 4 (TinyImageNet)
    ("super_resnet34", {"num_classes": 200}, 21383816),
]


@pytest.mark.parametrize("name,kwargs,count", REPORT_COUNTS)
def test_parameter_counts_match_reports_b_to_d(name, kwargs, count):
    # Exact for every entry. Compact CNN: only padding 1 in the 3x3 conv gives 49,338
    # (report D says padding 2). ResNet-18: a bias in every conv, as report B's
    # summary shows. ResNet-34: report A prints no architecture; a 1x1 conv + BN
    # shortcut in every stage's first block is what its two counts imply.
    assert models.count_parameters(models.build_model(name, **kwargs)) == count


def test_vgg13_count_is_report_b_layers_added_up():
    # Report B prints no count for VGG-13; add up its code instead: ten 3x3 convs,
    # then 512 * 2 * 2 -> 4096 -> 4096 -> 3 for 64x64 images.
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256),
             (256, 512), (512, 512), (512, 512), (512, 512)]
    linears = [(512 * 2 * 2, 4096), (4096, 4096), (4096, 3)]
    expected = (sum(9 * c_in * c_out + c_out for c_in, c_out in convs)
                + sum(f_in * f_out + f_out for f_in, f_out in linears))
    assert models.count_parameters(models.build_model("vgg13")) == expected == 34591299


def test_vgg13_takes_report_b_64x64_images_and_other_sizes():
    model = models.build_model("vgg13_dropout", width=0.125)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert model.fc[0].in_features == 64 * 2 * 2 and model.fc[0].out_features == 512
    with pytest.raises(ValueError, match=r"built for 64x64 images.*image_size=32"):
        model(torch.randn(2, 3, 32, 32))


def test_width_scales_every_layer_and_keeps_the_shape_of_the_network():
    channels = [m.out_channels for m in models.build_model("resnet18", width=0.25)
                .modules() if isinstance(m, torch.nn.Conv2d)]
    full = [m.out_channels for m in models.build_model("resnet18").modules()
            if isinstance(m, torch.nn.Conv2d)]
    assert channels == [c // 4 for c in full]
    vgg = models.build_model("vgg13", width=0.25)
    assert [m.out_features for m in vgg.fc if isinstance(m, torch.nn.Linear)] == [
        1024, 1024, 3]


@pytest.mark.parametrize("width", [0, -0.5, float("nan"), "half", True, 0.005])
@pytest.mark.parametrize("name", ["vgg13", "resnet18", "super_resnet34"])
def test_invalid_width_is_a_value_error_naming_it(name, width):
    with pytest.raises(ValueError, match=r"width"):
        models.build_model(name, width=width)


def test_too_small_width_says_which_widths_work():
    with pytest.raises(ValueError, match=r"width 0\.005 rounds .* width >= 0\.015625"):
        models.build_model("resnet18", width=0.005)


def test_compact_cnn_printout_has_three_conv_blocks_and_two_linears():
    text = str(models.build_model("compact_cnn"))
    order = ["Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))",
             "BatchNorm2d(16", "ReLU()", "MaxPool2d(kernel_size=2",
             "Conv2d(16, 32, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))",
             "Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
             "Linear(in_features=1024, out_features=16",
             "Linear(in_features=16, out_features=10"]
    positions = [text.index(token) for token in order]
    assert positions == sorted(positions)
    assert "Softmax" not in text  # logits out; cross_entropy applies log-softmax


def test_vgg13_printout_follows_report_b_code():
    text = str(models.build_model("vgg13_dropout", width=0.125, image_size=64))
    order = ["(conv): Sequential", "Conv2d(3, 8", "ReLU(inplace=True)", "MaxPool2d",
             "Conv2d(64, 64", "(fc): Sequential", "Linear(in_features=256",
             "Dropout(p=0.3", "Linear(in_features=512, out_features=512",
             "Dropout(p=0.1", "Linear(in_features=512, out_features=3"]
    positions = [text.index(token) for token in order]
    assert positions == sorted(positions)
    assert text.count("Conv2d(") == 10 and text.count("MaxPool2d") == 5
    assert "BatchNorm" not in text and "Dropout" not in str(models.build_model(
        "vgg13", width=0.125))


def test_resnet_printouts_show_each_reports_stem():
    resnet18 = str(models.build_model("resnet18_dropout", width=0.125))
    stem18 = resnet18[:resnet18.index("(layer1)")]
    order = ["Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
             "BatchNorm2d(8", "ReLU()", "Dropout(p=0.2", "MaxPool2d(kernel_size=3"]
    positions = [stem18.index(token) for token in order]
    assert positions == sorted(positions)
    assert resnet18.count("BasicBlock(") == 8 and "bias=False" not in resnet18

    resnet34 = str(models.build_model("super_resnet34", width=0.125))
    assert "MaxPool" not in resnet34 and resnet34.count("BasicBlock(") == 16
    assert resnet34.count("(shortcut): Sequential") == 4  # first block of each stage
    assert resnet34.count("Dropout2d(p=0.2") == 17        # stem + one per block
    assert "Dropout" not in str(models.build_model("resnet34", width=0.125))


def test_resnet_variants_differ_as_the_reports_say():
    assert models.get_spec("resnet34").init == "default"
    assert models.get_spec("resnet34_dropout").weight_decay == 0
    for name, init_name in [("super_resnet34", "kaiming"),
                            ("super_resnet34_wrong_init", "large_gaussian")]:
        spec = models.get_spec(name)
        assert (spec.init, spec.weight_decay) == (init_name, 0.01)
    assert models.get_spec("vgg13_l2").weight_decay == 1e-5
    assert str(models.build_model("vgg13_l2", width=0.125)) == str(
        models.build_model("vgg13", width=0.125))
    model = models.build_model("super_resnet34", width=0.125)
    assert torch.all(model.fc.bias == 0.01)  # Kaiming scheme: bias 0.01


def test_mlp_depth_activation_and_report_e_softmax():
    model = models.build_model("mlp", num_hidden=0)  # depth 1: softmax regression
    assert [type(m).__name__ for m in model.layers] == ["Flatten", "Linear"]
    assert models.count_parameters(models.build_model("mlp")) == 396_554
    assert models.count_parameters(models.build_model("mlp_6x256")) == 593_930
    buggy = models.build_model("mlp", activation="sigmoid", softmax_output=True)
    probabilities = buggy(torch.rand(3, 1, 32, 32))
    assert torch.allclose(probabilities.sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        models.build_model("mlp", activation="swish")


def test_init_keyword_overrides_the_registry_scheme():
    torch.manual_seed(0)
    wrong = models.build_model("super_lenet_wrong_init")
    fixed = models.build_model("super_lenet_wrong_init", init="kaiming")
    first = [m for m in (wrong, fixed)]
    conv_wrong, conv_fixed = (m.cnn_model[0] for m in first)
    assert conv_wrong.weight.std() > 0.5 > conv_fixed.weight.std()
    assert torch.all(conv_fixed.bias == 0.01)
    with pytest.raises(ValueError, match="unknown init scheme 'he'"):
        models.build_model("lenet", init="he")


def test_resnet_accepts_and_ignores_image_size():
    model = models.build_model("resnet18", num_classes=10, width=0.125, image_size=64)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_series_rnn_has_report_b_layers_and_reads_windows():
    model = models.build_model("series_rnn")
    assert models.count_parameters(model) == 1120 + 2 * 2112 + 33
    assert model(torch.rand(5, 24, 1)).shape == (5,)
    assert models.count_parameters(models.build_model("series_rnn", hidden_size=64)) > 5377


TEXT_MODELS = [n for n in models.list_models() if models.get_spec(n).inputs == "texts"]


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_every_text_model_maps_ids_and_lengths_to_logits(name):
    model = models.build_model(name, vocab_size=50)
    classes = 3 if name.startswith("tweet") else 2
    assert model(torch.randint(1, 50, (4, 9)), torch.tensor([9, 5, 2, 1])).shape == (4, classes)


def test_report_c_keras_layer_sizes():
    """Report C's summaries: SimpleRNN(64) on Emb 64 has 8,256 weights, LSTM(64) on
    Emb 256 has 82,176 (Keras counts one bias per gate, PyTorch two: 4 * 64 more)."""
    rnn = models.build_model("text_rnn", vocab_size=10)
    assert models.count_parameters(rnn.rnn) == 8256 + 64
    lstm = models.build_model("text_lstm", vocab_size=10)
    assert models.count_parameters(lstm.rnn) == 82176 + 4 * 64
    assert models.count_parameters(models.build_model("text_bilstm", vocab_size=10)
                                   .forward_layers) == 82176 + 4 * 64
    two = models.build_model("text_lstm_2layer", vocab_size=10)  # LSTM(64), then LSTM(32)
    assert [models.count_parameters(layer) for layer in two.layers] == [
        82176 + 4 * 64, 12416 + 4 * 32]
    assert two(torch.randint(1, 10, (3, 5)), torch.tensor([5, 2, 1])).shape == (3, 2)


def test_report_a_name_rnn_has_its_printed_layer_sizes():
    """Report A: i2h Linear(187, 128), i2o Linear(187, 59), o2o 187 -> 59."""
    model = models.build_model("tutorial_rnn", vocab_size=59)
    assert (model.i2h.in_features, model.i2h.out_features) == (187, 128)
    assert (model.i2o.in_features, model.i2o.out_features) == (187, 59)
    assert (model.o2o.in_features, model.o2o.out_features) == (187, 59)
    conditioned = models.build_model("tutorial_rnn", vocab_size=59, num_categories=18)
    assert conditioned.i2h.in_features == 187 + 18


@pytest.mark.parametrize("name", ["tutorial_rnn", "char_gru"])
def test_character_models_score_every_next_character_causally(name):
    torch.manual_seed(0)
    model = models.build_model(name, vocab_size=12, num_categories=3).eval()
    ids = torch.randint(0, 12, (2, 6))
    logits = model(ids, torch.tensor([0, 2]))
    assert logits.shape == (2, 6, 12)
    changed = ids.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 12  # later characters cannot change earlier scores
    assert torch.allclose(model(changed, torch.tensor([0, 2]))[:, :4], logits[:, :4])
    assert not torch.allclose(model(ids, torch.tensor([1, 2])), logits)  # language counts


def test_report_c_resnet18_is_torchvisions_and_its_embedding_nets_differ_in_the_head():
    import torchvision
    ours = models.ResNet((2, 2, 2, 2), num_classes=10, imagenet_stem=True)
    reference = torchvision.models.resnet18(num_classes=10)
    assert models.count_parameters(ours) == sum(p.numel() for p in reference.parameters())
    assert ours(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    triplet = models.build_model("resnet18_triplet", width=0.125)
    assert isinstance(triplet.head, models.NearestCentre)
    assert triplet.embed(torch.randn(3, 3, 64, 64)).shape == (3, 128)
    center = models.build_model("resnet18_center", width=0.125, num_classes=4)
    assert center.center_loss.centers.shape == (4, 128)


def test_regularisation_measures_of_report_b_chapters():
    from types import SimpleNamespace

    import pandas as pd

    from coursekit import training
    from coursekit.tasks.findings import regularisation_measures
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (64,), generator=g)
    images = torch.randint(0, 255, (64, 3, 8, 8), generator=g, dtype=torch.uint8)
    val = SimpleNamespace(images=images, labels=labels)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    models.set_input_norm(model, torch.full((3,), 0.5), torch.full((3,), 0.25))  # as fit does
    history = training.History(val_loss=[0.9, 0.7, 0.8], stopped_early=True)
    runs = SimpleNamespace(
        results=pd.DataFrame({"train_acc": [90.0], "val_acc": [80.0], "test_acc": [75.0]},
                             index=["early_stopping"]),
        trained={"early_stopping": model}, histories={"early_stopping": history})
    out = regularisation_measures(runs.results, runs, val).loc["early_stopping"]
    assert out["train_val_gap"] == 10.0 and out["train_test_gap"] == 15.0
    assert out["val_loss_drop"] == pytest.approx(0.1) and out["stopped_early"] == 1
    assert out["val_loss"] == pytest.approx(training.evaluate(model, val)["loss"])
