"""The registry: every report variant by name, with what the report varies around it.

A ``ModelSpec`` records how to build a network and what the report changes
*outside* it (L2 weight decay in the optimizer, the initialisation scheme), so a
chapter can loop over a report's variants by name alone. Augmentation is not part
of a spec: a chapter chooses it (``FitConfig.augment``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from coursekit._suggest import did_you_mean
from coursekit.models.init import apply_init

from .autoencoder import MLPAutoencoder
from .compact import CompactCNN
from .embedding import resnet18_embedding
from .lenet import LeNet
from .mlp import MLP
from .rnn import SeriesRNN
from .resnet import ResNet
from .char_rnn import CharGRU, TutorialRNN
from .seq2seq import Seq2Seq
from .text_rnn import TextRNN
from .vgg import VGG13
from .word_lm import WordLSTM

__all__ = ["ModelSpec", "build_model", "count_parameters", "get_spec", "list_models"]


@dataclass(frozen=True)
class ModelSpec:
    """A named report variant: how to build the network and how the report trained it.

    Attributes:
        name: registry key, e.g. "lenet_bn".
        report_name: the variant's name in the report's tables.
        builder: returns an ``nn.Module`` given keyword arguments such as num_classes.
        init: initialisation scheme from ``coursekit.models.init`` applied after building.
        weight_decay: L2 penalty the variant adds through the optimizer (0 = none).
        augment: augmentation that is part of the variant's definition (a name of
            ``coursekit.training.augment.AUGMENTATIONS``; "" = the recipe's own).
        source: where the report defines it.
        inputs: what the model reads: "images" (N, C, H, W), "series" (N, T, 1) or
            "texts" (padded ids (N, T) and lengths (N,); build with ``vocab_size=``) or
            "chars" (character ids (N, T) and categories (N,) -> next-character logits)
            or "pairs" (source ids, lengths and target ids -> next-word logits)
            or "words" (word ids (N, T) -> next-word logits (N, T, vocab))
            or "reconstruction" (images -> images of the same shape).
    """

    name: str
    report_name: str
    builder: Callable[..., nn.Module]
    init: str = "default"
    weight_decay: float = 0.0
    augment: str = ""
    source: str = ""
    inputs: str = "images"


def _with(model_class: type[nn.Module], **fixed) -> Callable[..., nn.Module]:
    """A builder of ``model_class`` whose defaults are ``fixed``; keywords override."""
    return lambda **kwargs: model_class(**{**fixed, **kwargs})


# LeNet family, report A (chapters A1, A2)
_DROP = dict(input_dropout=0.2, conv_dropout=(0.5, 0.5))
_SUPER = dict(activation="leaky_relu", use_batchnorm=True, conv_dropout=(0.0, 0.2))

# ResNet-18 of report B (B2): its summary shows a bias in every conv (Conv2d-1 has
# 1,792 = 3*64*9 + 64 parameters) and a max-pool after the stem (64x64 -> 32x32).
# Those biases are the 4,800 parameters over torchvision's layout: 11,175,171.
_RESNET18 = dict(num_blocks=(2, 2, 2, 2), num_classes=3, conv_bias=True,
                 stem_pool=True)

# ResNet-34 of report A (A3, A4). The report prints no architecture, only its counts:
# 21,286,346 for 10 classes and 21,383,816 for 200 (the difference, 190 * 513, is the
# linear layer 512 -> classes). A 3x3 stem without bias and a 1x1 conv + BN shortcut
# in the first block of every stage (4,224 parameters in stage 1) give both exactly;
# torchvision's layout with a 3x3 stem gives 21,282,122. No max-pool: 32x32 inputs.
_RESNET34 = dict(num_blocks=(3, 4, 6, 3), project_first_blocks=True)
# Report A gives no dropout rate; 0.2 is the rate of SuperLeNet's dropout (report A,
# Figure 6). Spatial dropout follows every batch norm of the main path.
_SPATIAL = dict(spatial_dropout=0.2)
# Report A, "Image Augmentation": RandomHorizontalFlip, RandomCrop and colour jitter are
# part of what makes a SuperResNet (section 2.5.1), so they travel with its name.
_SUPER_AUGMENT = "flip_crop_jitter"

_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("lenet", "LeNet", _with(LeNet), source="report A, Figure 1"),
    ModelSpec("lenet_bn", "LeNetBN", _with(LeNet, use_batchnorm=True),
              source="report A, Figure 2"),
    ModelSpec("lenet_dp", "LeNetDp", _with(LeNet, **_DROP, fc_dropout=(0.5, 0.5)),
              source="report A, Figure 3"),
    # Report A does not state its weight decay for LeNet; 5e-4 is the common choice.
    ModelSpec("lenet_l2", "LeNet with L2 weight decay", _with(LeNet), weight_decay=5e-4,
              source="report A, Figure 4"),
    ModelSpec("lenet_bn_dp", "LeNetBNDp",
              _with(LeNet, **_DROP, use_batchnorm=True, fc_dropout=(0.2, 0.2)),
              source="report A, Figure 5"),
    ModelSpec("super_lenet", "SuperLeNet with Proper Weight Init",
              _with(LeNet, **_SUPER), init="kaiming",
              source="report A, Figure 6 and section 4.5"),
    ModelSpec("super_lenet_wrong_init", "SuperLeNet with Wrong Weights Init",
              _with(LeNet, **_SUPER), init="large_gaussian",
              source="report A, Figure 6 and section 4.5"),
    ModelSpec("compact_cnn", "Compact CNN (49,338 parameters)", _with(CompactCNN),
              source="report D, Q1"),
    ModelSpec("vgg13", "Base VGG 13", _with(VGG13),
              source="report B, part I (VGG_13_CNN)"),
    ModelSpec("vgg13_l2", "Regularization", _with(VGG13), weight_decay=1e-5,
              source="report B, part I, Regularization (VGG_13_CNN_R, Adam 1e-4)"),
    ModelSpec("vgg13_dropout", "Dropout", _with(VGG13, dropout=(0.3, 0.1)),
              source="report B, part I, Dropout (VGG_13_CNN_D)"),
    ModelSpec("resnet18", "Base ResNet 18", _with(ResNet, **_RESNET18),
              source="report B, part II, summary of the model"),
    ModelSpec("resnet18_dropout", "Dropout Applied",
              _with(ResNet, **_RESNET18, stem_dropout=0.2),
              source="report B, part II, Drop out"),
    ModelSpec("resnet34", "ResNet without any dropouts", _with(ResNet, **_RESNET34),
              source="report A, section 2.5.1 and Tables 3-4"),
    ModelSpec("resnet34_dropout", "ResNet with dropouts",
              _with(ResNet, **_RESNET34, **_SPATIAL),
              source="report A, section 2.5.1 and Tables 3-4"),
    ModelSpec("super_resnet34", "SuperResNet with Proper weight Initialization",
              _with(ResNet, **_RESNET34, **_SPATIAL), init="kaiming", weight_decay=0.01,
              augment=_SUPER_AUGMENT, source="report A, sections 2.5.1 and 4.5, Tables 3-4"),
    ModelSpec("super_resnet34_wrong_init", "SuperResNet with Improper Initialization",
              _with(ResNet, **_RESNET34, **_SPATIAL), init="large_gaussian",
              weight_decay=0.01, augment=_SUPER_AUGMENT,
              source="report A, sections 2.5.1 and 4.5, Tables 3-4"),
    # MLPs of report E (chapters E1-E3): flattened 32x32 grayscale inputs.
    ModelSpec("mlp", "MLP 1024-256-256-256-10", _with(MLP, num_hidden=3),
              source="report E, question 1 (activations, vanishing gradients)"),
    ModelSpec("mlp_6x256", "MLP, 6 hidden layers of 256 ReLU units",
              _with(MLP, num_hidden=6, activation="relu"),
              source="report E, question 2 (regularization)"),
    # Forecaster of report B, part 3 (chapter B4): reads windows of a series.
    ModelSpec("series_rnn", "SimpleRNN (3 layers)", _with(SeriesRNN),
              source="report B, part 3 (SimpleRNN)", inputs="series"),
    # Text classifiers (chapters C2, B3): model(ids, lengths), vocab_size given by the
    # chapter. Report C's Keras summaries fix the sizes: embedding 64 for the RNN-64,
    # 256 for the others; a Dense(64) or Dense(32) layer, dropout (rate not given: 0.5)
    # and one output. Its 2-layer LSTM stacked 64 and 32 units; ours stacks 64 and 64.
    ModelSpec("text_rnn", "SimpleRNNModel64",
              _with(TextRNN, cell="rnn", embed_dim=64, hidden_size=64, head=64, dropout=0.5),
              source="report C, question 4a", inputs="texts"),
    ModelSpec("text_lstm", "SingleLSTMLayer64",
              _with(TextRNN, embed_dim=256, hidden_size=64, head=64, dropout=0.5),
              source="report C, question 4b", inputs="texts"),
    # Report C's summary: LSTM(64) returning sequences, LSTM(32), Dense(32), Dropout
    # (its rate not given: 0.5 is ours), Dense(1).
    ModelSpec("text_lstm_2layer", "2-layer LSTM",
              _with(TextRNN, embed_dim=256, hidden_size=(64, 32), head=32, dropout=0.5),
              source="report C, question 4c", inputs="texts"),
    ModelSpec("text_bilstm", "SingleBiLSTMModel",
              _with(TextRNN, embed_dim=256, hidden_size=64, bidirectional=True, head=32,
                    dropout=0.5),
              source="report C, questions 4d-4f", inputs="texts"),
    ModelSpec("sentiment_lstm", "SentimentRNN",
              _with(TextRNN, embed_dim=64, hidden_size=256, num_layers=2, dropout=0.3),
              source="report A, section 6.11.2", inputs="texts"),
    # Report B, part 4 (chapter B3): three stacked layers, 3 classes. Its BiLSTM adds
    # dropout between the layers and two fully connected layers (hidden size not given: 64).
    ModelSpec("tweet_lstm", "BASE LSTM",
              _with(TextRNN, embed_dim=128, hidden_size=64, num_layers=3, num_classes=3),
              source="report B, part 4 (BASE LSTM)", inputs="texts"),
    ModelSpec("tweet_bilstm", "BL_Model",
              _with(TextRNN, embed_dim=128, hidden_size=64, num_layers=3, bidirectional=True,
                    rnn_dropout=0.2, head=64, num_classes=3),
              source="report B, part 4 (BIDIRECTIONAL - LSTM)", inputs="texts"),
    # Character-level name models (chapter A7): model(ids, categories) -> (N, T, vocab).
    ModelSpec("tutorial_rnn", "RNNModel (i2h, i2o, o2o)", _with(TutorialRNN),
              source="report A, section 6.8.3; report D, Q3", inputs="chars"),
    ModelSpec("char_gru", "GRU (baseline, not in the reports)", _with(CharGRU),
              source="chapter A7's baseline", inputs="chars"),
    # Translators (chapter A10), built with src_vocab= and tgt_vocab=.
    ModelSpec("seq2seq_gru", "EncoderRNN + DecoderRNN (GRU)", _with(Seq2Seq, cell="gru"),
              source="report A, section 6.13 (GRU)", inputs="pairs"),
    ModelSpec("seq2seq_lstm", "EncoderRNN + DecoderRNN (LSTM)", _with(Seq2Seq, cell="lstm"),
              source="report A, section 6.13 (LSTM)", inputs="pairs"),
    ModelSpec("seq2seq_attention", "EncoderRNN + AttnDecoderRNN (GRU, Bahdanau)",
              _with(Seq2Seq, cell="gru", attention=True),
              source="the PyTorch seq2seq tutorial's third model", inputs="pairs"),
    # Word-level language models (chapter A8), built with vocab_size=.
    ModelSpec("word_lm_1", "WordModel1 (MyLM): Embedding 256, LSTM 256 x 3",
              _with(WordLSTM, embed_dim=256, hidden_size=256, num_layers=3,
                    tie_weights=True),
              source="report A, section 6.10 (WordModel1)", inputs="words"),
    ModelSpec("word_lm_2", "WordModel2: Embedding 1024, LSTM 1024 x 2, dropout 0.65",
              _with(WordLSTM, embed_dim=1024, hidden_size=1024, num_layers=2, dropout=0.65),
              source="report A, section 6.10 (WordModel2)", inputs="words"),
    # Representation learning (chapters C3 and C4).
    ModelSpec("mlp_autoencoder", "autoencoder (MLP, 9216-1024-1200-728-512-128)",
              _with(MLPAutoencoder), source="report C, question 2",
              inputs="reconstruction"),
    ModelSpec("resnet18_ce", "ResNet-18, cross-entropy",
              _with(resnet18_embedding, head="linear"), source="report C, Q 1.1"),
    ModelSpec("resnet18_triplet", "ResNet-18, triplet loss",
              _with(resnet18_embedding, head="centres", normalize=True),
              source="report C, Q 1.2"),
    ModelSpec("resnet18_center", "ResNet-18, cross-entropy + center loss",
              _with(resnet18_embedding, head="linear", center_loss=True),
              source="report C, Q 1.3"),
]}


def list_models() -> list[str]:
    """Names accepted by ``build_model``, in the order the reports introduce them."""
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``.

    Raises:
        ValueError: if ``name`` is unknown; the message suggests the closest names.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}.{did_you_mean(name, _REGISTRY)} "
                         f"Known models: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def build_model(name: str, *, init: str | None = None, **kwargs) -> nn.Module:
    """Build the named model with its report initialisation.

    Args:
        name: a name from ``list_models()``, e.g. "lenet" or "super_resnet34".
        init: a scheme of ``coursekit.models.init`` instead of the report's (chapter A5
            compares "kaiming", "xavier" and "large_gaussian" on one network).
        **kwargs: passed to the model, e.g. ``num_classes=200, image_size=64`` for
            LeNet or ``width=0.125`` for the VGG and ResNet models.
    Raises:
        ValueError: for an unknown name or init scheme, or a width the model cannot take.
        TypeError: for a keyword the model does not take.
    Example:
        >>> count_parameters(build_model("lenet"))
        62006
    """
    spec = get_spec(name)
    return apply_init(spec.builder(**kwargs), init or spec.init)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters, as the reports count them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
