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
from .config import EXACT, Config
from .errors import InputError
from .formats import FORMAT_NAMES, get_format
from .model import ARCHS, mac
from .vectors import dot_product_beats

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
    """One MAC configuration's accuracy under one rule."""
    config: Config
    rule: str
    K: int
    rows: int
    #: Quantization SQNR in dB, over all distributions and per distribution.
    sqnr_db: float
    sqnr_db_by_dist: dict
    #: Relative error of the MAC's dot products: median and 99th percentile.
    rel_err_median: float
    rel_err_p99: float

    @property
    def format(self) -> str:
        return self.config.format.name

    @property
    def arch(self) -> str:
        return self.config.arch

    def to_json(self) -> dict:
        """The keys decision.json has for it."""
        return {"format": self.format, "rule": self.rule, "arch": self.arch,
                "block_size": self.config.block_size, "K": self.K, "rows": self.rows,
                "sqnr_db": self.sqnr_db, "sqnr_db_by_dist": self.sqnr_db_by_dist,
                "rel_err_median": self.rel_err_median, "rel_err_p99": self.rel_err_p99}


def _sqnr_db(signal: float, noise: float) -> float:
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def measure(configs: list[Config], rule: str | None = None, rows: int = 64, K: int = 4096,
            seed: int = 0) -> list[Accuracy]:
    """One Accuracy per configuration (MACs of one format and block size,
    e.g. its lane and fused) under `rule` (None: the format's default)."""
    first = configs[0]
    if not all(first.same_stream(c) for c in configs):
        raise InputError(f"accuracy compares MACs of one format and block size, not "
                         f"{', '.join(c.name for c in configs)}")
    f, B = first.format, first.block_size
    signal, noise, by_dist = 0.0, 0.0, {}
    errs = {c: [] for c in configs}
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
        beats = dot_product_beats(first, qa, qw)
        for c in configs:
            bits = mac(c, beats)
            # A deferred expansion's result is in units of 1/d^2 (exact divide).
            unit = c.result_unit
            got = (bits.view(np.float32).astype(np.float64) * unit.numerator / unit.denominator
                   * (tensor_scale(qa) * tensor_scale(qw)))
            errs[c].append(np.abs(got - ref) / np.abs(ref))
    out = []
    for c in configs:
        e = np.concatenate(errs[c])
        out.append(Accuracy(c, qa.rule, K, rows * len(DISTRIBUTIONS),
                            round(_sqnr_db(signal, noise), 3), by_dist,
                            float(np.median(e)), float(np.percentile(e, 99))))
    return out


def measure_all(formats=FORMAT_NAMES, rows: int = 64, K: int = 4096, seed: int = 0,
                progress=None) -> list[Accuracy]:
    """Every format x rule x arch at the format's own block size (the exact
    arch for the E4M3-scaled formats)."""
    out = []
    for name in formats:
        configs = [Config.make(name, arch) for arch in ARCHS]
        if not get_format(name).scale.power_of_two:
            configs.append(Config.make(name, EXACT))
        for rule in rules_for(name):
            out += measure(configs, rule, rows=rows, K=K, seed=seed)
            if progress:
                progress(out[-1])
    return out
