"""Accuracy on a real model end to end: the embeddings of a sentence-
embedding BERT (ifmac.golden.bert) with every linear layer quantized, W and
A alike, against the unquantized model.

A run is a format and rule and one of two ways to compute the layers:

* `qdq`: quantize-dequantize both operands, float64 matmul: the format's
  error alone;
* a MAC (an ifmac.golden.config.Config): the golden MAC's own arithmetic
  (ifmac.golden.model.matmul: its accumulation order and roundings), then
  the epilogue an accelerator applies: the binary32 result times the
  binary32 product of both tensors' global factors (codec.tensor_scale; and
  the 1/d^2 of a deferred expansion), one fl32 multiply.

Activations are quantized per call, with the amax of the whole batch (every
token of every sentence) as their global scale; weights with their own.
Blocks run along the input dimension, zero-padded to a multiple of the
block size. Attention scores, softmax, GELU, LayerNorm, residuals and
biases stay float64, as the reference forward has them.

Fidelity against the unquantized forward, over the sentences: mean and
worst cosine similarity of each sentence's embedding, and how many
sentences' nearest neighbour (by cosine, among the others) changes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from .bert import Bert, Linear, read_sentences
from .codec import dequantize, pad_to_blocks, quantize, rules_for, tensor_scale, usable_cpus
from .config import EXACT, Config, Expansion
from .formats import FORMAT_NAMES, get_format
from .model import matmul

__all__ = ["QDQ", "MAC_ARCHS", "Run", "Fidelity", "runs", "quantized_linear", "fidelity",
           "measure"]

#: The arch label of the quantize-dequantize runs.
QDQ = "qdq"

#: The MACs whose arithmetic the real-model run uses (exact: E4M3 scales).
MAC_ARCHS = ("lane", "fused", "g4", EXACT)


@dataclass(frozen=True)
class Run:
    """One forward pass: a format and rule, and a MAC (None: qdq)."""
    fmt: str
    rule: str
    config: Config | None = None

    @property
    def arch(self) -> str:
        return QDQ if self.config is None else self.config.arch

    @property
    def expansion(self) -> str:
        return str(self.config.expansion if self.config else Expansion.SCALE)

    @property
    def label(self) -> str:
        tail = "" if self.expansion == "scale" else f" {self.expansion}"
        return f"{self.fmt}/{self.rule} {self.arch}{tail}"


def runs(mac_specs, formats=FORMAT_NAMES, archs=MAC_ARCHS) -> list[Run]:
    """qdq for every format (its default rule) and every (format, rule) of
    `mac_specs`; the MACs `archs` for each of `mac_specs` (the exact arch
    only for E4M3 scales; IF formats' fused and exact deferred as well)."""
    specs = list(dict.fromkeys([(f, rules_for(f)[0]) for f in formats] + list(mac_specs)))
    out = [Run(f, r) for f, r in specs]
    for f, r in mac_specs:
        fmt = get_format(f)
        for arch in archs:
            if arch == EXACT and fmt.scale.power_of_two:
                continue
            out.append(Run(f, r, Config.make(f, arch)))
            if fmt.adaptive and arch in ("fused", EXACT):
                out.append(Run(f, r, Config.make(f, arch, expansion="deferred")))
    return out


def quantized_linear(run: Run) -> Linear:
    """The linear layer of `run` (module docstring)."""
    f = get_format(run.fmt)
    B = run.config.block_size if run.config else f.block_size

    def linear(name, x, weight, bias):
        qa = quantize(pad_to_blocks(x.astype(np.float32), B), f, run.rule, B)
        qw = quantize(pad_to_blocks(weight, B), f, run.rule, B)
        if run.config is None:
            y = (dequantize(qa).astype(np.float64) @ dequantize(qw).astype(np.float64).T)
        else:
            unit = run.config.result_unit
            factor = np.float32(tensor_scale(qa) * tensor_scale(qw)
                                * unit.numerator / unit.denominator)
            with np.errstate(over="ignore", invalid="ignore"):
                y = (matmul(run.config, qa, qw).view(np.float32) * factor).astype(np.float64)
        return y + bias
    return linear


@dataclass(frozen=True)
class Fidelity:
    """A run's embeddings against the unquantized ones."""
    run: Run
    sentences: int
    cos_mean: float
    cos_worst: float
    neighbour_changes: int
    seconds: float
    #: A MAC run: the worst cosine of its embeddings with the qdq run's of
    #: the same format and rule, what the MAC's arithmetic alone moves.
    cos_worst_vs_qdq: float | None = None

    def to_json(self) -> dict:
        return {"format": self.run.fmt, "rule": self.run.rule, "arch": self.run.arch,
                "expansion": self.run.expansion, "sentences": self.sentences,
                "cos_mean": self.cos_mean, "cos_worst": self.cos_worst,
                "neighbour_changes": self.neighbour_changes,
                "cos_worst_vs_qdq": self.cos_worst_vs_qdq, "seconds": round(self.seconds, 1)}


def _neighbours(e: np.ndarray) -> np.ndarray:
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(axis=1)


def fidelity(run: Run, ref: np.ndarray, got: np.ndarray, seconds: float = 0.0) -> Fidelity:
    """Unit-norm embeddings `got` of `run` against `ref`."""
    cos = np.einsum("ij,ij->i", ref, got)
    changes = int(np.count_nonzero(_neighbours(ref) != _neighbours(got)))
    return Fidelity(run, len(ref), float(cos.mean()), float(cos.min()), changes, seconds)


# A worker's model and tokens, set before its runs (fork start method: the
# parent's, shared).
_state: dict = {}


def _one(run: Run) -> tuple[Fidelity, np.ndarray]:
    t0 = time.perf_counter()
    got = _state["model"].forward(_state["ids"], quantized_linear(run))
    return fidelity(run, _state["ref"], got, time.perf_counter() - t0), got


def measure(model: Bert, run_list: list[Run], sentences=None, workers: int | None = None,
            progress=None) -> tuple[np.ndarray, list[Fidelity]]:
    """The unquantized embeddings of `sentences` (default: the fixed set)
    and the Fidelity of every run, on `workers` processes (default: one per
    CPU), the longest runs first. `progress(fidelity, done, total)`."""
    sentences = read_sentences() if sentences is None else sentences
    ids = [model.tokenizer(s) for s in sentences]
    ref = model.forward(ids)
    _state.update(model=model, ids=ids, ref=ref)
    # Lane MACs take longest (a float32 sum per element pair), then g4.
    cost = {"lane": 0, "g4": 1, EXACT: 2}
    order = sorted(range(len(run_list)), key=lambda i: cost.get(run_list[i].arch, 3))
    results: list = [None] * len(run_list)

    def done(i, k):
        if progress:
            progress(results[i][0], k, len(run_list))
    workers = min(len(run_list), workers or usable_cpus())
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_one, run_list[i]): i for i in order}
            for k, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                done(futures[fut], k)
    else:
        for k, i in enumerate(order, 1):
            results[i] = _one(run_list[i])
            done(i, k)
    qdq = {(f.run.fmt, f.run.rule): e for f, e in results if f.run.config is None}
    out = []
    for f, e in results:
        base = qdq.get((f.run.fmt, f.run.rule)) if f.run.config else None
        out.append(f if base is None else dataclasses.replace(
            f, cos_worst_vs_qdq=float(np.einsum("ij,ij->i", base, e).min())))
    return ref, out
