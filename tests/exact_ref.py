"""An independent exact-arithmetic MAC reference for the golden model.

Written without the golden model's code: element values come from ml_dtypes
(or the spec's tables where ml_dtypes has no type), every value is a Python
Fraction, and rounding to binary32 happens only where docs/contract.md §3 says fl32.
It is slow and simple on purpose.
"""

from fractions import Fraction
import struct

import ml_dtypes
import numpy as np

# Spec §2 tables, typed in by hand for the types ml_dtypes lacks.
E2M0_MAG = {0: 0, 1: 1, 2: 2, 3: 4}
ML = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn,
      "e3m2": ml_dtypes.float6_e3m2fn}
# format -> (element bits, FP kind or None, INT kind or None, exact expansion
# (IF formats), scale kind)
SPEC = {
    "nvfp4": (4, "e2m1", None, None, "e4m3"),
    "if4": (4, "e2m1", "twos", Fraction(6, 7), "e4m3"),
    "if3": (3, "e2m0", "signmag", Fraction(4, 3), "e4m3"),
    "if6_e2m3": (6, "e2m3", "signmag", Fraction(15, 2) / 31, "e4m3"),
    "if6_e3m2": (6, "e3m2", "signmag", Fraction(28, 31), "e4m3"),
    "nvfp3": (3, "e2m0", None, None, "e4m3"),
    "nvfp6_e2m3": (6, "e2m3", None, None, "e4m3"),
    "nvfp6_e3m2": (6, "e3m2", None, None, "e4m3"),
    "nvint4": (4, None, "twos", None, "e4m3"),
    "nvint3": (3, None, "signmag", None, "e4m3"),
    "nvint6": (6, None, "signmag", None, "e4m3"),
    "mxfp4": (4, "e2m1", None, None, "e8m0"),
    "mxfp3": (3, "e2m0", None, None, "e8m0"),
    "mxfp6_e2m3": (6, "e2m3", None, None, "e8m0"),
    "mxfp6_e3m2": (6, "e3m2", None, None, "e8m0"),
}
INF, NAN = float("inf"), float("nan")


def r32(q):
    """Round a Fraction to binary32, nearest-even; +-INF on overflow."""
    q = Fraction(q)
    if q == 0:
        return Fraction(0)
    neg, a = q < 0, abs(q)
    num, den = a.numerator, a.denominator
    e = num.bit_length() - den.bit_length()      # floor(log2 a) or one more
    if (num << max(0, -e)) < (den << max(0, e)):
        e -= 1
    e = max(e, -126)
    # n = a / 2^(e-23) as an integer quotient and remainder, in integers.
    sh = 23 - e
    top, bot = (num << sh, den) if sh >= 0 else (num, den << -sh)
    lo, rem = divmod(top, bot)
    if 2 * rem > bot or (2 * rem == bot and lo % 2 == 1):
        lo += 1
    r = Fraction(lo) / (1 << sh) if sh >= 0 else Fraction(lo << -sh)
    if r >= 2 ** 128:
        return -INF if neg else INF
    return -r if neg else r


class F32:
    """An exact binary32 value: a Fraction (or +-INF, NAN) plus the sign of
    zero, which IEEE arithmetic keeps (-3 x +0 = -0; x + (-x) = +0; -0 + -0
    = -0). Every NaN is the RTL's canonical 0x7FC00000."""
    __slots__ = ("q", "neg")

    def __init__(self, q, neg=None):
        self.q = q if isinstance(q, float) else Fraction(q)
        self.neg = (self.q < 0) if neg is None or self.q != 0 else neg

    @property
    def special(self):
        return isinstance(self.q, float)

    def __mul__(self, other):
        x, y = self.q, other.q
        if (x != x) or (y != y) or (self.special and y == 0) or (other.special and x == 0):
            return F32(NAN)
        if self.special or other.special:
            return F32(INF if self.neg == other.neg else -INF)
        return F32(r32(x * y), self.neg != other.neg)

    def __add__(self, other):
        x, y = self.q, other.q
        if (x != x) or (y != y) or (self.special and other.special and x != y):
            return F32(NAN)
        if self.special or other.special:
            return self if self.special else other
        return F32(r32(x + y), self.neg and other.neg)

    def bits(self):
        if self.q != self.q:
            return 0x7FC00000
        return struct.unpack("<I", struct.pack("<f", -0.0 if self.neg and self.q == 0
                                               else float(self.q)))[0]


def element(fmt, code, is_int):
    nbits, fp, it, _, _ = SPEC[fmt]
    if (is_int or fp is None) and it is not None:
        if it == "twos":
            return Fraction(code - (1 << nbits) if code >> (nbits - 1) else code)
        mag = code & ((1 << (nbits - 1)) - 1)
        return Fraction(-mag if code >> (nbits - 1) else mag)
    if fp == "e2m0":
        mag = Fraction(E2M0_MAG[code & 3])
        return -mag if code & 4 else mag
    return Fraction(float(np.array([code], np.uint8).view(ML[fp])[0]))


def scale(byte, kind="e4m3"):
    if kind == "e8m0":
        return NAN if byte == 0xFF else Fraction(2) ** (int(byte) - 127)
    payload = byte & 0x7F
    if payload == 0x7F:
        return Fraction(448)
    return Fraction(float(np.array([payload], np.uint8).view(ml_dtypes.float8_e4m3fn)[0]))


def beat_terms(fmt, a, sa, w, sw, expansion="scale"):
    """Exact element products and the block-pair scale S: E4M3 rounded
    twice, fl32(fl32(sa * sb) * C^k), or with a deferred expansion
    fl32(fl32(sa * sb) * d^2 C^k) (C = n/d); E8M0 the exact power of two
    (or NaN)."""
    _, fp, it, e, kind = SPEC[fmt]
    ia = bool(sa & 0x80) and e is not None
    iw = bool(sw & 0x80) and e is not None
    if kind == "e8m0":
        x, y = scale(sa, kind), scale(sw, kind)
        S = F32(NAN) if (x != x or y != y) else F32(x * y)
    else:
        if expansion == "deferred":
            C = F32(e.denominator ** 2 * e ** (ia + iw))
        else:
            C = F32(r32(e ** (ia + iw)) if (ia or iw) else 1)
        S = (F32(scale(sa)) * F32(scale(sw))) * C
    # Products are exact fixed-point integers: a zero product is +0.
    p = [element(fmt, int(x), ia) * element(fmt, int(y), iw) for x, y in zip(a, w)]
    return p, S


def exact_segment(fmt, beats, expansion="scale"):
    """The exact arch: the segment's exact value rounded to binary32 once; an
    exact zero is +0 (contract §3a)."""
    total = exact_value(fmt, beats, expansion)
    return F32(r32(total), neg=total < 0).bits() if total else 0


def exact_value(fmt, beats, expansion="scale"):
    """A segment's exact value: the sum of a_i w_i sa sb C^k with the exact
    rational C (times d^2 with a deferred expansion)."""
    _, _, _, e, _ = SPEC[fmt]
    total = Fraction(0)
    for a, sa, w, sw in beats:
        ia = bool(sa & 0x80) and e is not None
        iw = bool(sw & 0x80) and e is not None
        c = e ** (ia + iw) if e is not None else 1
        if expansion == "deferred":
            c *= e.denominator ** 2
        total += sum(element(fmt, int(x), ia) * element(fmt, int(y), iw)
                     for x, y in zip(a, w)) * scale(sa) * scale(sw) * c
    return total


def segment(fmt, arch, beats, interleave=1, expansion="scale"):
    """beats: list of (a codes, a_scale, w codes, w_scale). Returns FP32 bits.

    arch: lane (groups of 1), fused (one group of B) or g<G>. Each group's
    exact product sum times S is rounded once; beat n of the segment adds
    into partial n mod `interleave` of its group; the partials (-0 where no
    beat reached) then meet in a pairwise tree, a group's partials first."""
    B = len(beats[0][0])
    G = {"lane": 1, "fused": B}.get(arch) or int(arch[1:])
    k = interleave
    partials = [[None] * k for _ in range(B // G)]
    for n, (a, sa, w, sw) in enumerate(beats):
        p, S = beat_terms(fmt, a, sa, w, sw, expansion)
        for g, slots in enumerate(partials):
            m = F32(sum(p[g * G:(g + 1) * G])) * S
            slots[n % k] = m if slots[n % k] is None else slots[n % k] + m
    leaves = [x if x is not None else F32(0, neg=True) for slots in partials for x in slots]
    while len(leaves) > 1:
        leaves = [leaves[i] + leaves[i + 1] for i in range(0, len(leaves), 2)]
    return leaves[0].bits()
