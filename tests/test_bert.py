"""The NumPy BERT forward (ifmac.golden.bert): WordPiece on a hand-made vocab,
and MiniLM-L6-v2 against the embeddings sentence-transformers computed
(tests/data/minilm_reference.npz; tests/data/make_minilm_reference.py says
how)."""

import json
from pathlib import Path

import numpy as np
import pytest

import minilm
from ifmac.golden.bert import Bert, Tokenizer, read_sentences
from ifmac.golden.errors import InputError

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.npz"

#: The NumPy forward against the reference, float64 against PyTorch's
#: float32: every embedding element within 1e-5, every cosine above
#: 1 - 1e-6 (measured: 1.3e-7 and 1 - 8e-8).
MAX_ABS = 1e-5
MIN_COS = 1 - 1e-6

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", ".", "!", ",", "un", "##aff",
         "##able", "caf", "##e", "a", "b", "c", "中"]


@pytest.fixture
def tok(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return Tokenizer(tmp_path / "vocab.txt", max_length=16)


def ids(*tokens):
    return [VOCAB.index(t) for t in ("[CLS]", *tokens, "[SEP]")]


def test_wordpiece(tok):
    """Lower case, accents stripped, punctuation split off, the longest
    piece first, a word without pieces [UNK], CJK characters alone."""
    assert tok("The cat.") == ids("the", "cat", ".")
    assert tok("  UNAFFABLE,the\tcat ") == ids("un", "##aff", "##able", ",", "the", "cat")
    assert tok("Café!") == ids("caf", "##e", "!")
    assert tok("cats") == ids("[UNK]")                      # no "##s": the whole word
    assert tok("x" * 101) == ids("[UNK]")
    assert tok("a中b") == ids("a", "中", "b")
    assert tok("") == ids()


def test_wordpiece_truncates(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    assert Tokenizer(tmp_path / "vocab.txt", max_length=4)("a b c a") == ids("a", "b")


def test_bad_model_folders(tmp_path):
    (tmp_path / "vocab.txt").write_text("the\ncat\n")
    with pytest.raises(InputError, match=r"no \[CLS\], \[SEP\], \[UNK\]"):
        Tokenizer(tmp_path / "vocab.txt", 8)
    with pytest.raises(InputError, match="no config.json"):
        Bert(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert",
                                                      "hidden_act": "relu"}))
    with pytest.raises(InputError, match="hidden_act is 'relu'; expected 'gelu'"):
        Bert(tmp_path)


def test_sentences():
    s = read_sentences()
    assert len(s) == 124 and len(set(s)) == 124 and not any(x.startswith("#") for x in s)


@minilm.needed
def test_minilm_forward_matches_sentence_transformers():
    """The tokenizer gives sentence-transformers' ids for every sentence, and
    the forward its embeddings within MAX_ABS / MIN_COS."""
    ref = np.load(REFERENCE)
    model = Bert(minilm.FOLDER)
    sentences = read_sentences()
    got_ids = [model.tokenizer(s) for s in sentences]
    want_ids = np.split(ref["ids"], ref["offsets"][1:-1])
    assert [list(x) for x in want_ids] == got_ids
    e = model.forward(got_ids)
    r = ref["embeddings"].astype(np.float64)
    assert e.shape == r.shape == (124, 384)
    assert np.abs(e - r).max() <= MAX_ABS
    assert np.einsum("ij,ij->i", e, r).min() >= MIN_COS
