"""Exact rounding of rationals to IEEE-754 binary32.

Used where a constant must be float32 of an exact rational (the MAC's
expansion constants): going through binary64 first could double-round.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["round_f32"]

_MANT = 24          # binary32 significand bits, hidden bit included
_EMIN = -126        # smallest normal exponent
_EMAX = 127


def round_f32(q: Fraction | int) -> Fraction | float:
    """Round `q` to the nearest binary32 value, ties to even; returns the
    value as a Fraction, or +-inf (a float) on overflow."""
    q = Fraction(q)
    if q == 0:
        return Fraction(0)
    sign = -1 if q < 0 else 1
    a = abs(q)
    # floor(log2(a)) from the bit lengths, corrected by one comparison.
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, _EMIN)
    ulp = Fraction(2) ** (e - (_MANT - 1))
    n, rem = divmod(a, ulp)
    n = int(n)
    if rem > ulp / 2 or (rem == ulp / 2 and n & 1):
        n += 1
    r = n * ulp
    if r >= Fraction(2) ** (_EMAX + 1):
        return sign * float("inf")
    return sign * r
