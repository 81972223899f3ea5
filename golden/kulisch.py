"""The exact arch (docs/contract.md §3a): a fixed-point (Kulisch)
accumulator that sums a segment's scaled products without rounding, and one
correctly rounded binary32 result per segment.

Every E4M3 scale is sig * 2^E with an integer significand sig <= 15 and
E in -9..5 (the subnormals share E = -9), so a beat's scaled block sum is an
integer term

    t = D * sig_a * sig_b * w << (E_a + E_b + 18)

in units of 2^L, L = -18 - 2 frac_bits, where D is the block's exact product
sum (units of 2^-2 frac_bits) and w the class weight of the pair's INT
blocks (d^2 C^k, C = n/d; 1 for formats without INT blocks). The segment's
value is (sum of t) * 2^L / d^2; with a deferred expansion the MAC returns
d^2 times it and needs no division.

The accumulator has HEADROOM bits above the largest term, so any segment of
up to 2^HEADROOM beats is held exactly whatever its values; a longer one is
held exactly as long as no prefix sum leaves the accumulator's range. When
one does, the segment's result is the canonical NaN with status bit
ACC_OVERFLOW. E8M0 (MX) scales are refused: their exponent sums span 2^-254
.. 2^254, which an exact accumulator would need over 540 bits to hold.

Here everything is integer arithmetic: the golden model of ifmac.hdl's exact
arch, checked against tests/exact_ref.py (Fractions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config, Expansion
from .formats import SCALE_NAN_PAYLOAD

__all__ = ["HEADROOM", "Geometry", "geometry", "scale_parts", "terms", "round_scaled",
           "segment_values"]

#: Bits of the accumulator above the largest term: 2^HEADROOM beats of
#: largest terms fit.
HEADROOM = 16

#: E4M3: significand bits (hidden bit included), the exponent of the
#: subnormals, and the offset that makes every term's shift non-negative.
SCALE_SIG_BITS = 4
SCALE_EMIN = -9
SHIFT_BIAS = -2 * SCALE_EMIN

#: binary32: significand bits and the exponent bias.
_F32_SIG = 24
_F32_BIAS = 127


@dataclass(frozen=True)
class Geometry:
    """The exact arch's fixed point for one configuration."""
    #: The class weights by INT sides (1, 1, 1 without INT blocks).
    weights: tuple[int, int, int]
    #: The divisor after the segment: d^2 (scale expansion), else 1.
    divisor: int
    #: The largest shift of a term (E_a + E_b + 18).
    max_shift: int
    #: The largest |term|: B largest products of the block pair's decode
    #: rows, times its weight, times 448^2 (in units of 2^L).
    term_peak: int
    #: Bits of term_peak and of the two's-complement accumulator.
    term_bits: int
    width: int
    #: The accumulator's unit: 2^lsb_exp.
    lsb_exp: int

    @property
    def longest_exact_segment(self) -> int:
        """Beats of largest terms the accumulator holds (at least
        2^HEADROOM): any segment this long or shorter is exact."""
        return ((1 << (self.width - 1)) - 1) // self.term_peak


def geometry(config: Config) -> Geometry:
    """The accumulator of `config` (an exact-arch configuration)."""
    f = config.format
    # The class weights in either expansion mode: Config's, as deferred has them.
    weights = (config.replace(expansion=Expansion.DEFERRED).class_weights if f.adaptive
               else (1, 1, 1))
    divisor = weights[0] if config.expansion == Expansion.SCALE else 1
    sig, e = scale_parts(np.arange(256))
    units = (sig << (e - SCALE_EMIN)).astype(np.int64)        # scales in units of 2^-9
    max_shift = 2 * (int(e.max()) - SCALE_EMIN)
    rows = [int(np.abs(row).max()) for row in f.fixed_table[:2 if f.adaptive else 1]]
    dot = max(config.block_size * pa * pb * weights[ka + kb]
              for ka, pa in enumerate(rows) for kb, pb in enumerate(rows))
    term_peak = dot * int(units.max()) ** 2
    term_bits = term_peak.bit_length()
    return Geometry(weights, divisor, max_shift, term_peak, term_bits,
                    term_bits + HEADROOM + 1, 2 * SCALE_EMIN - 2 * f.frac_bits)


def scale_parts(scale_bytes) -> tuple[np.ndarray, np.ndarray]:
    """E4M3 scale bytes (bit 7 ignored, payload 0x7F read as 0x7E = 448) ->
    (significand, exponent E) with value sig * 2^E, E >= -9."""
    p = np.asarray(scale_bytes, dtype=np.int64) & 0x7F
    p = np.where(p == SCALE_NAN_PAYLOAD, SCALE_NAN_PAYLOAD - 1, p)
    e, m = p >> 3, p & 7
    return np.where(e > 0, m + 8, m), np.maximum(e, 1) - 1 + SCALE_EMIN


def terms(config: Config, d: np.ndarray, a_scale, w_scale, int_sides) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Each beat's term t = D sig_a sig_b w << shift as two int64 limbs,
    t = hi * 2^32 + lo with 0 <= lo < 2^32 (t itself can pass 2^63)."""
    g = geometry(config)
    sig_a, e_a = scale_parts(a_scale)
    sig_b, e_b = scale_parts(w_scale)
    w = np.array(g.weights, dtype=np.int64)[int_sides]
    t = d.astype(np.int64) * sig_a * sig_b * w
    shift = e_a + e_b + SHIFT_BIAS
    if g.max_shift > 32 or np.abs(t).max(initial=0) >= 1 << 62:
        raise ArithmeticError("a term does not fit the two-limb split")
    hi = t >> (32 - shift)
    lo = (t & ((np.int64(1) << (32 - shift)) - 1)) << shift
    return hi, lo


def round_scaled(n: int, divisor: int, exp2: int) -> int:
    """binary32 bits of n * 2^exp2 / divisor rounded to nearest, ties to even
    (subnormals and overflow to infinity as RNE gives them); an exact zero
    is +0. Integers only."""
    if n == 0:
        return 0
    sign = 0x80000000 if n < 0 else 0
    n = abs(n)
    # A quotient with at least 26 significant bits; the rest is sticky.
    pre = max(0, _F32_SIG + 2 + divisor.bit_length() - n.bit_length())
    q, r = divmod(n << pre, divisor)
    e = exp2 - pre                              # value = (q + r/divisor) 2^e
    top = e + q.bit_length() - 1                # exponent of the leading bit
    # Keep 24 bits, or (subnormal) down to the unit 2^-149.
    drop = q.bit_length() - _F32_SIG if top >= 1 - _F32_BIAS else 2 - _F32_BIAS - _F32_SIG - e
    kept, rest = q >> drop, q & ((1 << drop) - 1)
    half = 1 << (drop - 1)
    if rest > half or (rest == half and (r or kept & 1)):
        kept += 1
    exp = e + drop                              # value = kept 2^exp
    if kept >> _F32_SIG:                        # rounding carried into a new bit
        kept >>= 1
        exp += 1
    if kept >> (_F32_SIG - 1) == 0:             # below 2^23: a subnormal
        return sign | kept
    biased = exp + _F32_SIG - 1 + _F32_BIAS
    if biased >= 255:
        return sign | 0x7F800000
    return sign | (biased << 23) | (kept & 0x7FFFFF)


def segment_values(config: Config, hi: np.ndarray, lo: np.ndarray, starts: np.ndarray,
                   lengths: np.ndarray) -> list[int | None]:
    """Every segment's accumulator (a Python int), or None where a prefix sum
    left the accumulator's range (only possible past 2^HEADROOM beats)."""
    g = geometry(config)
    if len(starts) == 0:
        return []
    hi_sum = np.add.reduceat(hi, starts)
    lo_sum = np.add.reduceat(lo, starts)
    bound = 1 << (g.width - 1)
    out = []
    for k, (h, lo_k) in enumerate(zip(hi_sum.tolist(), lo_sum.tolist())):
        if lengths[k] <= 1 << HEADROOM:
            out.append((h << 32) + lo_k)
            continue
        acc = 0
        for j in range(starts[k], starts[k] + lengths[k]):
            acc += (int(hi[j]) << 32) + int(lo[j])
            if not -bound <= acc < bound:
                acc = None
                break
        out.append(acc)
    return out
