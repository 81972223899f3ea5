"""TestFloat-style binary32 operand pairs and their expected results.

Operands are drawn per category (zeros, subnormals, normals, extremes,
exponent differences, cancellation, ties and carries, overflow, underflow,
infinities, NaNs) plus uniform random bit patterns; expected results are
NumPy float32 arithmetic (IEEE RNE, subnormals kept), NaN made canonical.
"""

from __future__ import annotations

import numpy as np

CANONICAL_NAN = np.uint32(0x7FC00000)
OPS = ("add", "mul")

_SIGN = np.uint32(0x80000000)
MIN_SUB, MAX_SUB = np.uint32(0x00000001), np.uint32(0x007FFFFF)
MIN_NORM, MAX_NORM = np.uint32(0x00800000), np.uint32(0x7F7FFFFF)
INF = np.uint32(0x7F800000)


def _bits(sign, exp, frac) -> np.ndarray:
    return ((np.asarray(sign, np.uint32) << 31) | (np.asarray(exp, np.uint32) << 23)
            | np.asarray(frac, np.uint32)).astype(np.uint32)


def _rand_sign(rng, n):
    return rng.integers(0, 2, n, dtype=np.uint32)


def _operands(rng, n: int, kind: str) -> np.ndarray:
    s = _rand_sign(rng, n)
    frac = rng.integers(0, 1 << 23, n, dtype=np.uint32)
    if kind == "zero":
        return _bits(s, 0, 0)
    if kind == "min_sub":
        return _bits(s, 0, 1)
    if kind == "max_sub":
        return _bits(s, 0, 0x7FFFFF)
    if kind == "sub":
        return _bits(s, 0, np.maximum(frac, 1))
    if kind == "min_norm":
        return _bits(s, 1, 0)
    if kind == "max_norm":
        return _bits(s, 254, 0x7FFFFF)
    if kind == "norm":
        return _bits(s, rng.integers(1, 255, n), frac)
    if kind == "inf":
        return _bits(s, 255, 0)
    if kind == "nan":       # quiet and signalling payloads
        return _bits(s, 255, np.maximum(frac, 1))
    if kind == "ones":      # all-ones mantissas: carries into the exponent
        return _bits(s, rng.integers(1, 255, n), 0x7FFFFF - rng.integers(0, 4, n, dtype=np.uint32))
    if kind == "short":     # few significant bits: exact results and ties
        return _bits(s, rng.integers(100, 155, n), frac & np.uint32(0x7FF000))
    raise ValueError(kind)


SINGLE = ("zero", "min_sub", "max_sub", "sub", "min_norm", "max_norm", "norm", "inf", "nan",
          "ones", "short")


def _related_pairs(rng, n: int, op: str, kind: str):
    """Pairs built from one another: exponent differences, cancellation,
    ties, overflow, underflow."""
    a = _operands(rng, n, "norm")
    exp_a = (a >> 23) & 0xFF
    s = _rand_sign(rng, n)
    frac = rng.integers(0, 1 << 23, n, dtype=np.uint32)
    if kind == "exp_diff":  # differences 0..30 and beyond
        d = rng.integers(0, 40, n).astype(np.int64)
        eb = np.clip(exp_a.astype(np.int64) - d, 0, 254)
        return a, _bits(s, eb, frac)
    if kind == "cancel":    # b = -a, or -a a few ulps away
        delta = rng.integers(-3, 4, n).astype(np.int64)
        b = (a.astype(np.int64) + delta).clip(0, 0x7F7FFFFF).astype(np.uint32)
        return a, b ^ _SIGN * (1 if op == "add" else rng.integers(0, 2, n, dtype=np.uint32))
    if kind == "tie":
        if op == "add":     # b = half an ulp of a (times an odd factor below 1)
            eb = np.clip(exp_a.astype(np.int64) - 24, 1, 254)
            return a, _bits(s, eb, 0)
        return _operands(rng, n, "short"), _operands(rng, n, "short")
    if kind == "overflow":
        big = rng.integers(200, 255, n)
        return _bits(_rand_sign(rng, n), big, frac), _bits(s, rng.integers(200, 255, n) if op == "mul"
                                                          else 254, frac ^ 0x5A5A5)
    if kind == "underflow":
        lo = rng.integers(1, 70, n)
        if op == "mul":
            return _bits(_rand_sign(rng, n), lo, frac), _bits(s, rng.integers(1, 70, n), frac ^ 0x1234)
        return _bits(_rand_sign(rng, n), lo, frac), _bits(s, lo, frac ^ 1)   # near-cancel small
    raise ValueError(kind)


RELATED = ("exp_diff", "cancel", "tie", "overflow", "underflow")


def operand_pairs(op: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n operand pairs: a quarter uniform random bits, the rest split evenly
    over every single-operand category pair and every related-pair kind."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    rng = np.random.default_rng(seed)
    n_uniform = n // 4
    parts_a = [rng.integers(0, 1 << 32, n_uniform, dtype=np.uint64).astype(np.uint32)]
    parts_b = [rng.integers(0, 1 << 32, n_uniform, dtype=np.uint64).astype(np.uint32)]
    combos = [(x, y) for x in SINGLE for y in SINGLE] + [(k, None) for k in RELATED] * 12
    per = max(1, (n - n_uniform) // len(combos))
    for x, y in combos:
        if y is None:
            a, b = _related_pairs(rng, per, op, x)
        else:
            a, b = _operands(rng, per, x), _operands(rng, per, y)
        parts_a.append(a)
        parts_b.append(b)
    a, b = np.concatenate(parts_a), np.concatenate(parts_b)
    fill = n - len(a)
    if fill > 0:
        a = np.concatenate([a, rng.integers(0, 1 << 32, fill, dtype=np.uint64).astype(np.uint32)])
        b = np.concatenate([b, rng.integers(0, 1 << 32, fill, dtype=np.uint64).astype(np.uint32)])
    order = rng.permutation(n)
    return a[:n][order], b[:n][order]


def expected(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IEEE binary32 RNE results, NaN canonical."""
    fa, fb = a.view(np.float32), b.view(np.float32)
    with np.errstate(all="ignore"):
        r = (fa + fb) if op == "add" else (fa * fb)
    out = r.view(np.uint32).copy()
    out[np.isnan(r)] = CANONICAL_NAN
    return out


def fixed_values(width: int, n: int, seed: int) -> np.ndarray:
    """Signed integers of `width` bits: extremes, small values, powers of two
    and their neighbours, uniform."""
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    special = [0, 1, -1, lo, hi, lo + 1, hi - 1]
    for k in range(width - 1):
        special += [1 << k, -(1 << k), (1 << k) + 1, -(1 << k) - 1, (1 << k) - 1]
    special = np.clip(np.array(special, dtype=np.int64), lo, hi)
    u = rng.integers(lo, hi + 1, max(0, n - len(special)), dtype=np.int64)
    return np.concatenate([special, u])[:n]


def fixed_expected(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """float32 bits of value * 2^-frac_bits, rounded once (via float64, exact
    for |value| < 2^53)."""
    return (values.astype(np.float64) * 2.0 ** -frac_bits).astype(np.float32).view(np.uint32)
