"""coursekit: the shared library behind the coursekit book.

The package in layers; each imports only from the layers above it in this list::

    data/       datasets by name: manifests, mirror or publisher, checksums, caches
    models/     every network by name (registry), its initialisation (init)
    training/   one loop for all: fit, objectives, variants, loader, augment, optim,
                losses, distributed, memory, metrics, diagnostics
    tasks/      topic helpers the chapters share: text, corpus, embeddings, classic,
                chars, lm, wordlm, translate, series, representations, theory,
                mlp_study, findings
    book/       what a page shows: report (reported.yaml), claims, plots
    runner/     runs the chapter notebooks and builds the book
    chapter.py, cli.py, train_script.py: the entry points of notebooks, shells
                and torchrun

``docs/architecture.md`` in the repository says more. Import the modules you need
(``from coursekit import data, models, training``); importing the package loads no
heavy dependency. The paths of 0.1 (``coursekit.train``, ``coursekit.report``, ...)
still import, with a warning naming the new path (see ``coursekit._moved``).
"""

from coursekit import _moved

__version__ = "0.1.0"
REPOSITORY = "https://github.com/coursekit/coursekit"  # the book's sources and chapters

_moved.install()
