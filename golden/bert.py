"""A BERT encoder in NumPy: enough of the family to run a sentence-embedding
model such as all-MiniLM-L6-v2 end to end, with every linear layer going
through a function the caller chooses (float64, quantize-dequantize, or a
MAC's golden arithmetic: ifmac.golden.model_accuracy).

* `Tokenizer`: BERT's uncased WordPiece (vocab.txt): clean, split CJK
  characters, lowercase and strip accents, split on whitespace and
  punctuation, then the longest vocabulary match first, continuations
  prefixed "##", a word without a match [UNK]; [CLS] ... [SEP], truncated to
  the model's max_seq_length.
* `Bert`: embeddings (word + position + token type 0, LayerNorm), then per
  layer self-attention (heads of hidden / heads dimensions, softmax of
  q k^T / sqrt(dim)), its output dense + residual + LayerNorm, the FFN
  (dense, GELU with erf, dense) + residual + LayerNorm; then the mean of
  the tokens and L2 normalization (sentence-transformers' Pooling and
  Normalize). Everything but the linear layers is float64.

The sentences of a batch are concatenated into one (tokens, hidden) matrix,
so a linear layer sees every token of the batch at once (the activation
tensor whose global scale a quantizer takes); attention runs per sentence.
"""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path
from typing import Callable

import numpy as np

from .checkpoint import tensors
from .errors import InputError

__all__ = ["Tokenizer", "Bert", "Linear", "float_linear", "read_sentences", "SENTENCES"]

#: The fixed sentences of the real-model run (31 topics of 4).
SENTENCES = Path(__file__).parent / "data" / "sentences.txt"

#: linear(name, x, weight, bias) -> x weight^T + bias: x (tokens, in)
#: float64, weight (out, in) and bias (out,) float32, result float64.
Linear = Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def float_linear(name: str, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The unquantized layer, in float64."""
    return x @ weight.T.astype(np.float64) + bias


def read_sentences(path=SENTENCES) -> list[str]:
    """One sentence per line; blank lines and lines starting with # skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [s for s in (x.strip() for x in lines) if s and not s.startswith("#")]


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


class Tokenizer:
    """BERT's uncased WordPiece tokenizer over a vocab.txt."""

    MAX_WORD_CHARS = 100

    def __init__(self, vocab_path, max_length: int):
        words = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        self.vocab = {w: i for i, w in enumerate(words)}
        missing = [t for t in ("[CLS]", "[SEP]", "[UNK]") if t not in self.vocab]
        if missing:
            raise InputError(f"{vocab_path}: no {', '.join(missing)} token; expected a BERT "
                             "vocab.txt")
        self.max_length = max_length

    def _words(self, text: str) -> list[str]:
        out, word = [], []
        text = "".join(" " if unicodedata.category(c) == "Zs" or c in "\t\n\r" else c
                       for c in text
                       if not (ord(c) in (0, 0xFFFD) or (unicodedata.category(c).startswith("C")
                                                         and c not in "\t\n\r")))
        text = "".join(f" {c} " if _is_cjk(ord(c)) else c for c in text)
        for token in text.split():
            token = "".join(c for c in unicodedata.normalize("NFD", token.lower())
                            if unicodedata.category(c) != "Mn")
            for c in token:
                if _is_punctuation(c):
                    if word:
                        out.append("".join(word))
                        word = []
                    out.append(c)
                else:
                    word.append(c)
            if word:
                out.append("".join(word))
                word = []
        return out

    def _pieces(self, word: str) -> list[int]:
        if len(word) > self.MAX_WORD_CHARS:
            return [self.vocab["[UNK]"]]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = ("##" if start else "") + word[start:end]
                if piece in self.vocab:
                    out.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.vocab["[UNK]"]]
            start = end
        return out

    def __call__(self, text: str) -> list[int]:
        ids = [i for w in self._words(text) for i in self._pieces(w)]
        return [self.vocab["[CLS]"], *ids[:self.max_length - 2], self.vocab["[SEP]"]]


class Bert:
    """A BERT encoder read from a folder holding config.json, vocab.txt and
    its .safetensors weights (Hugging Face names, with or without a "bert."
    prefix), as sentence-transformers ships it."""

    def __init__(self, folder):
        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise InputError(f"{folder}: no config.json; expected a BERT model folder "
                             "(config.json, vocab.txt, model.safetensors)")
        cfg = json.loads(cfg_path.read_text())
        for key, want in (("model_type", "bert"), ("hidden_act", "gelu"),
                          ("position_embedding_type", "absolute")):
            if cfg.get(key, want) != want:
                raise InputError(f"{cfg_path}: {key} is {cfg.get(key)!r}; expected {want!r}")
        self.layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.hidden = int(cfg["hidden_size"])
        self.eps = float(cfg["layer_norm_eps"])
        st = folder / "sentence_bert_config.json"
        max_length = (json.loads(st.read_text()).get("max_seq_length") if st.is_file() else None)
        self.tokenizer = Tokenizer(folder / "vocab.txt",
                                   int(max_length or cfg["max_position_embeddings"]))
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            raise InputError(f"{folder}: no .safetensors weights")
        self.w = {t.name.split(":", 1)[-1].removeprefix("bert."): t.rows(0, t.shape[0])
                  .reshape(t.shape) for f in files for t in tensors(f) if t.is_float}

    def param(self, name: str) -> np.ndarray:
        try:
            return self.w[name]
        except KeyError:
            raise InputError(f"the checkpoint has no tensor {name!r}") from None

    def linear_names(self) -> list[str]:
        """The linear layers in the order a forward pass calls them."""
        out = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            out += [p + "attention.self.query", p + "attention.self.key",
                    p + "attention.self.value", p + "attention.output.dense",
                    p + "intermediate.dense", p + "output.dense"]
        return out

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.param(name + ".weight") + \
            self.param(name + ".bias")

    def _dense(self, linear: Linear, name: str, x: np.ndarray) -> np.ndarray:
        return linear(name, x, self.param(name + ".weight"), self.param(name + ".bias"))

    def embed(self, sentences: list[str], linear: Linear = float_linear) -> np.ndarray:
        """(sentences, hidden) float64 unit-norm sentence embeddings."""
        ids = [self.tokenizer(s) for s in sentences]
        return self.forward(ids, linear)

    def forward(self, ids: list[list[int]], linear: Linear = float_linear) -> np.ndarray:
        """Embeddings of tokenized sentences (each [CLS] ... [SEP])."""
        offsets = np.cumsum([0] + [len(x) for x in ids])
        flat = np.concatenate([np.asarray(x, dtype=np.intp) for x in ids])
        pos = np.concatenate([np.arange(len(x)) for x in ids])
        e = self.param
        x = (e("embeddings.word_embeddings.weight")[flat].astype(np.float64)
             + e("embeddings.position_embeddings.weight")[pos]
             + e("embeddings.token_type_embeddings.weight")[0])
        x = self._norm(x, "embeddings.LayerNorm")
        H, dh = self.heads, self.hidden // self.heads
        erf = np.frompyfunc(math.erf, 1, 1)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._dense(linear, p + "attention.self." + n, x)
                       for n in ("query", "key", "value"))
            ctx = np.empty_like(x)
            for lo, hi in zip(offsets[:-1], offsets[1:]):
                qs, ks, vs = (t[lo:hi].reshape(hi - lo, H, dh).transpose(1, 0, 2)
                              for t in (q, k, v))
                s = qs @ ks.transpose(0, 2, 1) / math.sqrt(dh)
                s = np.exp(s - s.max(axis=-1, keepdims=True))
                s /= s.sum(axis=-1, keepdims=True)
                ctx[lo:hi] = (s @ vs).transpose(1, 0, 2).reshape(hi - lo, H * dh)
            x = self._norm(self._dense(linear, p + "attention.output.dense", ctx) + x,
                           p + "attention.output.LayerNorm")
            h = self._dense(linear, p + "intermediate.dense", x)
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)).astype(np.float64))
            x = self._norm(self._dense(linear, p + "output.dense", h) + x,
                           p + "output.LayerNorm")
        pooled = np.add.reduceat(x, offsets[:-1], axis=0) / np.diff(offsets)[:, None]
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
