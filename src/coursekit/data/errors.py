"""The errors of `coursekit.data`: one base class, two specific cases."""

__all__ = ["DataError", "DatasetNotFoundError", "ChecksumError"]


class DataError(Exception):
    """Base class of every error `coursekit.data` raises on purpose.

    Catch this to handle any data problem; its message always names the
    dataset or file at fault and says how to fix it.
    """


class DatasetNotFoundError(DataError):
    """No source of a dataset worked: not the data dir, the mirror or the URL.

    The message lists each place tried, why it failed, and how to fix it.
    """


class ChecksumError(DataError):
    """A downloaded file does not match the checksum of its manifest.

    The file has already been deleted when this is raised; the message names
    the file, its URL, the expected and the actual checksum.
    """
