"""Every architecture of the reports, built by name.

``build_model("lenet_bn")`` returns a fresh ``nn.Module`` whose printout matches the
model summary in the report. Every classifier has the same call,
``model(images) -> logits`` with images (N, C, H, W) float and logits (N, num_classes);
losses stay outside the model so one ``training.fit`` loop serves them all. A trained
image model keeps its input statistics as buffers (``norm``).

A registry entry (``ModelSpec``) also records what the report varies *outside* the
network, such as L2 weight decay in the optimizer or the initialisation scheme, so a
chapter can loop over report variants by name alone.

Modules: ``registry`` (names, specs, ``build_model``), ``lenet`` (report A's LeNets),
``compact`` (report D's 49,338-parameter CNN), ``mlp`` (report E's MLPs), ``rnn`` (report B's forecaster), ``text_rnn`` (the text
classifiers of reports A, B and C), ``char_rnn`` (the name generators of reports A and D), ``seq2seq`` (report A's translators), ``word_lm`` (report A's word-level language models), ``autoencoder`` (report C's MLP autoencoder), ``embedding`` (report C's metric-learning networks and the centres of center loss), ``init`` (report A's initialisation schemes), ``norm`` (input statistics), ``vgg`` (report B's VGG-13) and ``resnet`` (report B's
ResNet-18 and report A's ResNet-34).

>>> import torch
>>> model = build_model("resnet18", width=0.125)
>>> model(torch.randn(2, 3, 64, 64)).shape
torch.Size([2, 3])
"""

from .autoencoder import EncoderClassifier, MLPAutoencoder, conv_encoder
from .compact import CompactCNN
from .embedding import EmbeddingNet, NearestCentre, resnet18_backbone, without_shortcuts
from .lenet import LeNet
from .norm import input_norm, load_state, set_input_norm
from .mlp import MLP
from .rnn import SeriesRNN
from .char_rnn import Bigram, CharGRU, TutorialRNN
from .seq2seq import Seq2Seq
from .text_rnn import TextRNN
from .registry import ModelSpec, build_model, count_parameters, get_spec, list_models
from .resnet import BasicBlock, ResNet
from .vgg import VGG13
from .word_lm import WordLSTM

__all__ = ["BasicBlock", "Bigram", "CharGRU", "CompactCNN", "EmbeddingNet", "EncoderClassifier", "MLPAutoencoder", "NearestCentre", "LeNet", "MLP", "ModelSpec", "ResNet", "Seq2Seq", "SeriesRNN", "TextRNN", "TutorialRNN",
           "VGG13", "WordLSTM",
           "build_model", "conv_encoder", "count_parameters", "get_spec", "input_norm",
           "list_models", "load_state", "set_input_norm",
           "resnet18_backbone", "without_shortcuts"]
