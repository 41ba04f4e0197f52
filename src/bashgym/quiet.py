"""Keep libraries' progress bars and deprecation chatter out of bashgym's own output.

transformers, datasets and TRL print a bar per tokenizing pass and a FutureWarning per deprecated argument they
pass to themselves: nothing a user can act on, and it buries our progress and numbers (and breaks --json on
stdout). Warnings of any other kind from our own code still show.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

LIBRARIES = r"(transformers|trl|peft|datasets|accelerate|torch|huggingface_hub)(\..*)?"


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block: no Hugging Face progress bars, transformers logs errors only, and the libraries'
    FutureWarning/DeprecationWarning/UserWarning are ignored."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.filterwarnings("ignore", category=category, module=LIBRARIES)
        yield
