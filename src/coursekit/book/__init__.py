"""What a page shows: the reports' numbers and claims (``report``, ``reported.yaml``,
``claims``) and the book's figures (``plots``). Imports ``training`` and ``tasks``
only for what it scores; the runner and the chapters import it."""
