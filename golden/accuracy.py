"""Accuracy of a format on realistic data: what `ifmac accuracy` measures.

Per format x rule x arch, activation and weight tensors of four kinds
(`DISTRIBUTIONS`) go through the codec and the golden MAC as dot products of
length K (one segment per row):

* quantization SQNR: 10 log10(sum x^2 / sum (x - dequantize(quantize(x)))^2)
  over every activation and weight element, in dB;
* the MAC's relative error |mac * ga * gw - ref| / |ref| against the
  float64 dot product `ref` of the unquantized inputs, median and 99th
  percentile over the rows; ga and gw are the tensors' global factors the
  block scales leave out (`tensor_scale`: amax / (Q * Smax), 1 for MX),
  applied in float64 after the MAC.

The data comes from a fixed seed, so every figure is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .codec import dequantize, quantize, rules_for, tensor_scale
from .formats import FORMAT_NAMES, get_format
from .model import ARCHS, mac

__all__ = ["DISTRIBUTIONS", "tensors", "Accuracy", "measure", "measure_all"]

#: Normal, Laplace and Student-t(3) activations and weights; "outliers":
#: normal weights, normal activations with 1 % of the elements 50 times
#: larger (the channel outliers of LLM activations).
DISTRIBUTIONS = ("normal", "laplace", "student_t", "outliers")


def tensors(dist: str, rows: int, K: int, rng: np.random.Generator):
    """(activations, weights), each (rows, K) float32, of distribution `dist`."""
    if dist == "normal":
        a, w = rng.standard_normal((2, rows, K))
    elif dist == "laplace":
        a, w = rng.laplace(size=(2, rows, K))
    elif dist == "student_t":
        a, w = rng.standard_t(3, size=(2, rows, K))
    elif dist == "outliers":
        a, w = rng.standard_normal((2, rows, K))
        a[rng.random(a.shape) < 0.01] *= 50
    else:
        raise ValueError(f"unknown distribution {dist!r}; expected one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    return a.astype(np.float32), w.astype(np.float32)


@dataclass(frozen=True)
class Accuracy:
    format: str
    rule: str
    arch: str
    block_size: int
    K: int
    rows: int
    #: Quantization SQNR in dB, over all distributions and per distribution.
    sqnr_db: float
    sqnr_db_by_dist: dict
    #: Relative error of the MAC's dot products: median and 99th percentile.
    rel_err_median: float
    rel_err_p99: float


def _sqnr_db(signal: float, noise: float) -> float:
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def measure(fmt, rule: str | None = None, archs=ARCHS, block_size: int | None = None,
            rows: int = 64, K: int = 4096, seed: int = 0) -> list[Accuracy]:
    """One Accuracy per arch for `fmt` under `rule` (None: the format's
    default) at `block_size` (None: the format's own)."""
    f = get_format(fmt)
    B = f.block_size if block_size is None else block_size
    signal, noise, by_dist = 0.0, 0.0, {}
    errs = {a: [] for a in archs}
    rng = np.random.default_rng(seed)
    for dist in DISTRIBUTIONS:
        a, w = tensors(dist, rows, K, rng)
        qa, qw = quantize(a, f, rule, B), quantize(w, f, rule, B)
        s = n = 0.0
        for x, q in ((a, qa), (w, qw)):
            x64 = x.astype(np.float64)
            s += float(np.sum(x64 ** 2))
            n += float(np.sum((dequantize(q).astype(np.float64) - x64) ** 2))
        by_dist[dist] = round(_sqnr_db(s, n), 3)
        signal, noise = signal + s, noise + n
        ref = np.einsum("ij,ij->i", a.astype(np.float64), w.astype(np.float64))
        last = np.zeros((rows, K // B), bool)
        last[:, -1] = True
        for arch in archs:
            bits = mac(f, arch, qa.codes.reshape(-1, B), qa.scales.reshape(-1),
                       qw.codes.reshape(-1, B), qw.scales.reshape(-1), last.reshape(-1), B)
            got = bits.view(np.float32).astype(np.float64) * (tensor_scale(qa) * tensor_scale(qw))
            errs[arch].append(np.abs(got - ref) / np.abs(ref))
    out = []
    for arch in archs:
        e = np.concatenate(errs[arch])
        out.append(Accuracy(f.name, qa.rule, arch, B, K, rows * len(DISTRIBUTIONS),
                            round(_sqnr_db(signal, noise), 3), by_dist,
                            float(np.median(e)), float(np.percentile(e, 99))))
    return out


def measure_all(formats=FORMAT_NAMES, rows: int = 64, K: int = 4096, seed: int = 0,
                progress=None) -> list[Accuracy]:
    """Every format x rule x arch at the format's own block size."""
    out = []
    for name in formats:
        for rule in rules_for(name):
            out += measure(name, rule, rows=rows, K=K, seed=seed)
            if progress:
                progress(out[-1])
    return out
