"""Topic helpers the chapters share, above the training loop.

Texts (``text``, ``corpus``, ``embeddings``, ``classic``), names and next-token models
(``chars``, ``lm``, ``wordlm``), translation (``translate``), time series (``series``),
what a network's embeddings show (``representations``), worked theory (``theory``),
the MLP studies of report E (``mlp_study``) and measures derived from results tables
(``findings``). They import ``training``, ``models`` and ``data``, never ``book`` or
the runner.
"""
