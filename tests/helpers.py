"""Helpers shared by test modules (tests/ is on sys.path, see conftest.py)."""

# Fields of a run record that vary from run to run on the same seed.
VOLATILE = {"time_s", "throughput", "peak_memory_mb", "epoch_time_s", "fit_s",
            "train_s", "seconds", "wall_s", "elapsed_s"}


def stable(node):
    """A record's results without wall times, speeds and memory."""
    if isinstance(node, dict):
        return {k: stable(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [stable(v) for v in node]
    return node
