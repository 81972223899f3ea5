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

from .codec import dequantize, pad_to_blocks, quantize, rules_for, tensor_scale
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
                "expansion": str(self.config.expansion),
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
    arch for the E4M3-scaled formats; the IF formats' fused and exact MACs
    with the deferred expansion too)."""
    out = []
    for name in formats:
        f = get_format(name)
        archs = [*ARCHS, EXACT] if not f.scale.power_of_two else list(ARCHS)
        configs = [Config.make(name, arch) for arch in archs]
        if f.adaptive:
            configs += [Config.make(name, arch, expansion="deferred") for arch in ("fused", EXACT)]
        for rule in rules_for(name):
            out += measure(configs, rule, rows=rows, K=K, seed=seed)
            if progress:
                progress(out[-1])
    return out


# --------------------------------------------------------------------------
# A checkpoint's weights
# --------------------------------------------------------------------------

#: `ifmac accuracy --model`: the formats and rules a checkpoint's weights are
#: quantized with unless told otherwise.
MODEL_SPECS = (("if4", "mse"), ("nvfp4", "static_6"), ("nvfp4", "mse"),
               ("nvint4", "static_6"), ("mxfp4", "static_6"))

#: Rows of a weight quantized at a time (memory: a few of them in float32).
CHUNK_ROWS = 4096


@dataclass
class LayerAccuracy:
    """One 2-D weight of a checkpoint under every (format, rule): SQNR in dB
    and, for the IF formats, the share of its blocks that chose INT."""
    name: str
    shape: tuple[int, int]
    signal: float
    noise: dict[str, float]
    int_share: dict[str, float]

    @property
    def params(self) -> int:
        return self.shape[0] * self.shape[1]

    def sqnr_db(self, spec: str) -> float:
        return _sqnr_db(self.signal, self.noise[spec])

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "params": self.params,
                "sqnr_db": {s: round(self.sqnr_db(s), 3) for s in self.noise},
                "int_share": {s: round(v, 4) for s, v in self.int_share.items()}}


def spec_name(fmt: str, rule: str) -> str:
    return f"{fmt}/{rule}"


def check_specs(specs) -> list[tuple[str, str]]:
    """(format, rule) pairs, each rule one of its format's."""
    out = []
    for fmt, rule in specs:
        if rule not in rules_for(fmt):
            raise InputError(f"rule {rule!r} does not apply to {fmt}; expected one of "
                             f"{', '.join(rules_for(fmt))}")
        out.append((get_format(fmt).name, rule))
    return out


def weight_accuracy(path, specs=MODEL_SPECS, progress=None) -> list[LayerAccuracy]:
    """Every 2-D float weight of the checkpoint at `path` (ifmac.golden.
    checkpoint) quantized along its last axis, the input dimension of a
    (out, in) linear weight, in each format's own block size (the axis
    zero-padded to a multiple of it; zeros quantize exactly), with the
    whole tensor's amax as its global scale, streamed CHUNK_ROWS rows at a
    time. `progress(k, layer)` after each weight."""
    from .checkpoint import tensors
    specs = check_specs(specs)
    out = []
    for t in tensors(path):
        if not t.is_float or len(t.shape) != 2 or 0 in t.shape:
            continue
        rows, K = t.shape
        chunks = [(lo, min(rows, lo + CHUNK_ROWS)) for lo in range(0, rows, CHUNK_ROWS)]
        amax = max(float(np.abs(t.rows(lo, hi)).max()) for lo, hi in chunks)
        signal = 0.0
        noise = {spec_name(*s): 0.0 for s in specs}
        int_blocks = {spec_name(*s): 0 for s in specs if get_format(s[0]).adaptive}
        for lo, hi in chunks:
            x = t.rows(lo, hi).astype(np.float32)
            x64 = x.astype(np.float64)
            signal += float(np.sum(x64 ** 2))
            for fmt, rule in specs:
                B = get_format(fmt).block_size
                q = quantize(pad_to_blocks(x, B), fmt, rule, B, amax=amax)
                err = dequantize(q)[:, :K].astype(np.float64) - x64
                noise[spec_name(fmt, rule)] += float(np.sum(err ** 2))
                if spec_name(fmt, rule) in int_blocks:
                    int_blocks[spec_name(fmt, rule)] += int(np.count_nonzero(q.scales & 0x80))
        blocks = {s: rows * -(-K // get_format(s.split("/")[0]).block_size) for s in int_blocks}
        layer = LayerAccuracy(t.name, (rows, K), signal, noise,
                              {s: n / blocks[s] for s, n in int_blocks.items()})
        out.append(layer)
        if progress:
            progress(len(out), layer)
    if not out:
        raise InputError(f"{path}: no 2-D float tensor to quantize")
    return out


def weight_totals(layers: list[LayerAccuracy]) -> dict:
    """Per spec over every layer: SQNR of the pooled signal and noise, the
    parameter-weighted mean of the layers' SQNR in dB, the share of INT
    blocks weighted by parameters."""
    params = sum(x.params for x in layers)
    signal = sum(x.signal for x in layers)
    out = {}
    for s in layers[0].noise:
        out[s] = {"sqnr_db": round(_sqnr_db(signal, sum(x.noise[s] for x in layers)), 3),
                  "mean_layer_sqnr_db": round(sum(x.params * x.sqnr_db(s) for x in layers)
                                              / params, 3)}
        if s in layers[0].int_share:
            out[s]["int_share"] = round(sum(x.params * x.int_share[s] for x in layers)
                                        / params, 4)
    return out
