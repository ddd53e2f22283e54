"""Models: the report's parameter counts and structure, the registry, initialisation."""

import math

import pytest
import torch

from coursekit import init, models

A1_COUNTS = {"lenet": 62006, "lenet_bn": 62458, "lenet_dp": 62006, "lenet_l2": 62006,
             "lenet_bn_dp": 62458, "super_lenet": 62458, "super_lenet_wrong_init": 62458}


@pytest.mark.parametrize("name,count", A1_COUNTS.items())
def test_parameter_counts_match_report_a_table_1(name, count):
    assert models.count_parameters(models.build_model(name)) == count


@pytest.mark.parametrize("name", models.list_models())
def test_every_model_maps_images_to_logits(name):
    model = models.build_model(name, num_classes=7)
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
