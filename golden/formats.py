"""The one format registry.

Every block-scaled format ifmac knows is one `Format` entry in `FORMATS`.
The golden codec, the golden MAC, the RTL generator, the CLI and the reports
all derive widths, biases, maxima and constants from here; nothing else in
the project spells out a format's numbers.

A format is a scale format and an element selection:

* scale: E4M3 with the INT flag in bit 7 (the NV and IF formats), or E8M0,
  an unsigned power of two 2^(e-127) with 0xFF = NaN (the OCP MX formats);
* elements: "fp" (nvfp*, mxfp*), "int" (nvint*) or "adaptive" (if*: bit 7
  of each block's scale byte selects the INT or the FP decode of the block).
  A non-adaptive E4M3 format requires bit 7 to be 0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import ml_dtypes
import numpy as np

from .errors import InputError

__all__ = [
    "FPElement", "IntElement", "ScaleFormat", "E4M3", "E8M0", "Format", "FORMATS",
    "FORMAT_NAMES", "BLOCK_SIZES", "SCALE_MAX", "get_format", "check_block_size", "f32_bits",
]

#: Block sizes the RTL and the codec support. Powers of two so that the lane
#: reduction is a complete binary tree and the fused dot product's width is
#: element-product width + log2(B).
BLOCK_SIZES = (8, 16, 32)

#: Largest finite E4M3 scale (0x7E). Payload 0x7F (NaN in OCP E4M3) decodes
#: as 448 too: the published MAC saturates it, and so does ifmac.
SCALE_MAX = 448.0

#: E4M3 scale byte layout: bit 7 flags INT elements, bits 6:0 are an unsigned E4M3.
SCALE_INT_FLAG = 0x80
SCALE_PAYLOAD_MASK = 0x7F
SCALE_NAN_PAYLOAD = 0x7F
#: E8M0: the byte is the exponent e of 2^(e - 127); 0xFF is NaN.
E8M0_BIAS = 127
E8M0_NAN = 0xFF


def f32_bits(value) -> int:
    """IEEE binary32 bit pattern of `value` rounded to float32."""
    return int(np.array(value, dtype=np.float32).view(np.uint32))


@dataclass(frozen=True)
class FPElement:
    """A sign-magnitude minifloat element with no inf/NaN codes.

    The magnitude has `exp_bits` exponent and `man_bits` mantissa bits; the
    sign is the element's top bit. Exponent field 0 is subnormal
    (m / 2^man_bits * 2^(1 - bias)), others are (1 + m / 2^man_bits) * 2^(e - bias).
    """
    name: str
    exp_bits: int
    man_bits: int
    bias: int
    #: ml_dtypes type with the same encoding, None where ml_dtypes has none.
    ml_dtype: object | None
    #: How a value halfway between two magnitudes rounds: "even" (IEEE) or
    #: "down" (to the smaller magnitude, as the published FP3 kernel does).
    ties: str = "even"

    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def frac_bits(self) -> int:
        """Fraction bits of the fixed point that holds every value exactly:
        the weight of the smallest subnormal step is 2^-(man_bits + bias - 1)."""
        return max(0, self.man_bits + self.bias - 1)

    @property
    def max_value(self) -> float:
        return float(self.magnitude_fraction((1 << (self.exp_bits + self.man_bits)) - 1))

    def magnitude_fraction(self, mag_code: int) -> Fraction:
        e = mag_code >> self.man_bits
        m = mag_code & ((1 << self.man_bits) - 1)
        if e == 0:
            return Fraction(m, 1 << self.man_bits) * Fraction(2) ** (1 - self.bias)
        return (1 + Fraction(m, 1 << self.man_bits)) * Fraction(2) ** (e - self.bias)


@dataclass(frozen=True)
class IntElement:
    """An integer element whose value is int x expansion x block scale."""
    bits: int
    #: "twos" (two's complement) or "signmag" (sign bit on top).
    encoding: str
    #: Largest magnitude the quantizer emits (the reference clamps to it).
    imax: int
    #: Exact rational expansion; the MAC uses float32 of this (and of its square).
    expansion: Fraction
    #: The reference quantizer's decimal constants, rounded to float32 where
    #: used: E multiplies on dequantize, R (about 1/E) before rounding.
    ref_expansion: float
    ref_recip: float


@dataclass(frozen=True)
class ScaleFormat:
    """How a block's scale byte encodes its scale."""
    #: "e4m3": bit 7 is the INT flag, bits 6:0 an unsigned E4M3 (0x7F
    #: decodes as 448); "e8m0": the byte is e of 2^(e - 127), 0xFF is NaN.
    name: str

    @property
    def int_flag(self) -> bool:
        """True where bit 7 is the INT flag rather than part of the scale."""
        return self.name == "e4m3"

    @property
    def power_of_two(self) -> bool:
        """Every scale is a power of two: a scale pair is an exponent add."""
        return self.name == "e8m0"

    @property
    def one(self) -> int:
        """The byte of scale 1.0."""
        return E8M0_BIAS if self.power_of_two else 0x38

    def is_nan(self, scale_bytes) -> np.ndarray:
        """True where a scale byte is the format's NaN code (E4M3: payload
        0x7F, which the MAC decodes as 448; E8M0: 0xFF)."""
        b = np.asarray(scale_bytes, dtype=np.uint8)
        if self.int_flag:
            return (b & SCALE_PAYLOAD_MASK) == SCALE_NAN_PAYLOAD
        return b == E8M0_NAN

    def decode(self, scale_bytes) -> np.ndarray:
        """float32 scale of every byte: E4M3 bits 6:0 (bit 7 ignored; 0x7F
        saturates to 448); E8M0 2^(e - 127), exact in float32 (2^-127 is a
        subnormal), NaN for 0xFF."""
        b = np.asarray(scale_bytes, dtype=np.uint8)
        if self.power_of_two:
            nan = b == E8M0_NAN
            out = np.ldexp(1.0, np.where(nan, 0, b.astype(np.int32) - E8M0_BIAS))
            out[nan] = np.nan
            return out.astype(np.float32)
        payload = b & SCALE_PAYLOAD_MASK
        return np.minimum(payload.view(ml_dtypes.float8_e4m3fn).astype(np.float32),
                          np.float32(SCALE_MAX), where=payload != SCALE_NAN_PAYLOAD,
                          out=np.full(payload.shape, SCALE_MAX, np.float32))

    def __str__(self) -> str:
        return self.name


E4M3 = ScaleFormat("e4m3")
E8M0 = ScaleFormat("e8m0")


@dataclass(frozen=True)
class Format:
    name: str
    fp: FPElement | None
    int: IntElement | None = None
    scale: ScaleFormat = E4M3
    #: The block size the format is defined with (MX: 32); 8, 16 and 32 all work.
    block_size: int = 16
    #: The format this one's cost is measured against besides nvfp4 (the
    #: reports' "FP-only baseline"): for an IF format, the FP-only format
    #: with the same FP element, i.e. the same MAC without the INT side.
    cost_baseline: str | None = None

    def __post_init__(self):
        if self.fp is None and self.int is None:
            raise ValueError(f"format {self.name}: no element")
        if self.fp and self.int and self.fp.bits != self.int.bits:
            raise ValueError(f"format {self.name}: FP and INT elements differ in width")
        if self.scale.power_of_two and self.elements != "fp":
            raise ValueError(f"format {self.name}: E8M0 scales carry no INT flag")

    # -- widths ---------------------------------------------------------
    @property
    def elements(self) -> str:
        """Element selection: "fp", "int", or "adaptive" (INT/FP per block)."""
        if self.fp and self.int:
            return "adaptive"
        return "fp" if self.fp else "int"

    @property
    def bits(self) -> int:
        """Element width in bits; also the width of a code on the MAC ports."""
        return (self.fp or self.int).bits

    @property
    def adaptive(self) -> bool:
        """True for IF formats (scale bit 7 selects INT elements)."""
        return self.elements == "adaptive"

    @property
    def flag_reserved(self) -> bool:
        """True where bit 7 of the scale byte is the INT flag but must be 0
        (a non-adaptive E4M3 format): the MAC ignores it and reports it."""
        return self.scale.int_flag and not self.adaptive

    @property
    def frac_bits(self) -> int:
        """Fraction bits of the shared fixed-point element value. INT values are
        integers, so the FP side alone sets it."""
        return self.fp.frac_bits if self.fp else 0

    @property
    def qmax(self) -> float:
        """Largest element magnitude of the primary side (FP if present,
        else INT): the reference's Qmax."""
        return self.fp.max_value if self.fp else float(self.int.imax)

    # -- value tables ---------------------------------------------------
    @functools.cached_property
    def fp_values(self) -> tuple[Fraction, ...] | None:
        if self.fp is None:
            return None
        sign = 1 << (self.bits - 1)
        return tuple((-1 if c & sign else 1) * self.fp.magnitude_fraction(c & (sign - 1))
                     for c in range(1 << self.bits))

    @functools.cached_property
    def int_values(self) -> tuple[int, ...] | None:
        if self.int is None:
            return None
        n, sign = 1 << self.bits, 1 << (self.bits - 1)
        if self.int.encoding == "twos":
            return tuple(c - n if c & sign else c for c in range(n))
        return tuple(-(c & (sign - 1)) if c & sign else c for c in range(n))

    def values(self, is_int: bool) -> tuple:
        """Exact value of every code of a block whose INT flag is `is_int`
        (Fraction for FP, int for INT, before scale and expansion). Only an
        adaptive format has two decodes; the others ignore the flag, as the
        MAC does."""
        if self.adaptive:
            return self.int_values if is_int else self.fp_values
        return self.fp_values or self.int_values

    @functools.cached_property
    def fixed_table(self) -> np.ndarray:
        """(2, 2^bits) int64: value of each code in units of 2^-frac_bits for a
        block with INT flag 0 (row 0) and 1 (row 1); the rows are equal but
        for adaptive formats. This is what the RTL's decode stage produces."""
        scale = 1 << self.frac_bits
        return np.array([[int(v * scale) for v in self.values(is_int)] for is_int in (0, 1)],
                        dtype=np.int64)

    @functools.cached_property
    def value_table(self) -> np.ndarray:
        """(2, 2^bits) float32: FP and INT element values (INT without expansion)."""
        return (self.fixed_table / (1 << self.frac_bits)).astype(np.float32)

    # -- MAC constants ----------------------------------------------------
    def expansion_f32(self, int_sides: int) -> int:
        """Bits of C for a block pair with `int_sides` (0, 1 or 2) INT blocks:
        1, float32(e) or float32(e^2), e the exact expansion."""
        if int_sides == 0 or not self.adaptive:
            return f32_bits(1.0)
        e = self.int.expansion ** int_sides
        return f32_bits(_fraction_to_f32(e))

    def __str__(self) -> str:
        return self.name


def _fraction_to_f32(q: Fraction) -> float:
    # float(Fraction) rounds correctly to binary64; binary64 -> binary32 can
    # double-round, so round via exact arithmetic instead.
    from .exact import round_f32
    return float(round_f32(q))


E2M1 = FPElement("e2m1", exp_bits=2, man_bits=1, bias=1, ml_dtype=ml_dtypes.float4_e2m1fn)
# E2M0 has no ml_dtypes type. Ties go to the smaller magnitude, as in the
# published FP3 kernel (|y| <= 0.5 -> 0, <= 1.5 -> 1, <= 3 -> 2, else 4).
E2M0 = FPElement("e2m0", exp_bits=2, man_bits=0, bias=1, ml_dtype=None, ties="down")
E2M3 = FPElement("e2m3", exp_bits=2, man_bits=3, bias=1, ml_dtype=ml_dtypes.float6_e2m3fn)
E3M2 = FPElement("e3m2", exp_bits=3, man_bits=2, bias=3, ml_dtype=ml_dtypes.float6_e3m2fn)

# INT sides. The expansion maps the INT grid's maximum onto the FP side's
# Qmax (6/7: INT4 7 -> E2M1 6; 4/3: INT3 3 -> E2M0 4; 7.5/31 and 28/31:
# INT6 31 -> E2M3 7.5 / E3M2 28). The decimal constants are the reference
# quantizer's, kept verbatim so the codec is bit-compatible with it.
INT4 = IntElement(4, "twos", imax=7, expansion=Fraction(6, 7),
                  ref_expansion=0.8571428571, ref_recip=1.16666666)
INT3 = IntElement(3, "signmag", imax=3, expansion=Fraction(4, 3),
                  ref_expansion=1.3333333333, ref_recip=0.75)
INT6_E2M3 = IntElement(6, "signmag", imax=31, expansion=Fraction(15, 62),
                       ref_expansion=0.2419355, ref_recip=4.1333333333)
INT6_E3M2 = IntElement(6, "signmag", imax=31, expansion=Fraction(28, 31),
                       ref_expansion=0.9032258065, ref_recip=1.1071428571)

# The NVINT formats' elements: plain integers (expansion 1), the encodings
# of the IF formats' INT sides (INT4 two's complement as the reference's
# nvint4; INT3 and INT6 sign-magnitude).
NVINT4 = IntElement(4, "twos", imax=7, expansion=Fraction(1), ref_expansion=1.0, ref_recip=1.0)
NVINT3 = IntElement(3, "signmag", imax=3, expansion=Fraction(1), ref_expansion=1.0,
                    ref_recip=1.0)
NVINT6 = IntElement(6, "signmag", imax=31, expansion=Fraction(1), ref_expansion=1.0,
                    ref_recip=1.0)

FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("nvfp4", E2M1),
    Format("if4", E2M1, INT4, cost_baseline="nvfp4"),
    Format("if3", E2M0, INT3, cost_baseline="nvfp3"),
    Format("if6_e2m3", E2M3, INT6_E2M3, cost_baseline="nvfp6_e2m3"),
    Format("if6_e3m2", E3M2, INT6_E3M2, cost_baseline="nvfp6_e3m2"),
    Format("nvfp3", E2M0),
    Format("nvfp6_e2m3", E2M3),
    Format("nvfp6_e3m2", E3M2),
    Format("nvint4", None, NVINT4),
    Format("nvint3", None, NVINT3),
    Format("nvint6", None, NVINT6),
    Format("mxfp4", E2M1, scale=E8M0, block_size=32),
    Format("mxfp3", E2M0, scale=E8M0, block_size=32),
    Format("mxfp6_e2m3", E2M3, scale=E8M0, block_size=32),
    Format("mxfp6_e3m2", E3M2, scale=E8M0, block_size=32),
)}
FORMAT_NAMES = tuple(FORMATS)


def get_format(fmt: str | Format) -> Format:
    if isinstance(fmt, Format):
        return fmt
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        raise InputError(f"unknown format {fmt!r}; expected one of "
                         f"{', '.join(FORMAT_NAMES)}") from None


def check_block_size(block_size) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or int(block_size) not in BLOCK_SIZES:
        raise InputError(f"block_size must be one of {', '.join(map(str, BLOCK_SIZES))}, "
                         f"not {block_size!r}")
    return int(block_size)
