"""coursekit: the shared library behind the coursekit book.

Import the modules you need (``from coursekit import data, models, train``);
importing the package itself has no side effects and loads no heavy dependency.
"""

__version__ = "0.1.0"
REPOSITORY = "https://github.com/coursekit/coursekit"  # the book's sources and chapters
