"""IEEE-754 binary32 arithmetic in Amaranth: adder, multiplier, converters.

ifmac's own floating-point units, so that the MAC needs no proprietary IP.
Complete binary32 with round-to-nearest-even: normals, subnormals in and
out, signed zeros with the standard rules (x + (-x) = +0 and
(-0) + (-0) = -0 in RNE), infinities, and NaN; every NaN result is the
canonical quiet NaN 0x7FC00000.

Each unit is a `wiring.Component` with `a`, `b` (or `value`) inputs and a
`result` output, all binary32 bit patterns. The datapath is written in named
stages (classify -> special cases -> align/product -> add -> normalize ->
round) as combinational logic. `pipeline` registers (0 = combinational, the
default) go in the sync domain: the adder places them at its own cut points
inside the datapath (after align, add and normalize; cvfpu's DISTRIBUTED),
the other units, and the adder beyond three, after the result (a synthesis
tool's retiming could move those, as for Berkeley HardFloat's pipelined
wrappers; ifmac's flow does not retime). `latency` is the number of
registers.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ifmac.golden.errors import InputError

__all__ = ["Float32Adder", "Float32Multiplier", "FixedToFloat32", "CANONICAL_NAN",
           "round_and_pack", "leading_zeros", "classify", "significant_bits", "cut"]

EXP_BITS = 8
FRAC_BITS = 23
SIG_BITS = FRAC_BITS + 1        # with the hidden bit
BIAS = 127
EXP_MAX = (1 << EXP_BITS) - 1   # all ones: inf / NaN
CANONICAL_NAN = 0x7FC00000


def check_pipeline(pipeline) -> int:
    if isinstance(pipeline, bool) or not isinstance(pipeline, int) or pipeline < 0:
        raise InputError(f"pipeline must be a non-negative integer, not {pipeline!r}")
    return pipeline


def cut(m: Module, values: dict, prefix: str) -> dict:
    """A pipeline cut: every value of `values` registered in the sync domain,
    returned under the same keys (Values and data Views alike). Only `valid`
    is reset: what travels with it means nothing while it is low, and a reset
    on every data flop would make the reset net fan out to thousands of them
    (a path OpenSTA rightly finds slower than the datapath)."""
    out = {}
    for key, value in values.items():
        reg = Signal(value.shape(), name=f"{prefix}_{key}", reset_less=key != "valid")
        m.d.sync += reg.eq(value)
        out[key] = reg
    return out


# --------------------------------------------------------------------------
# Shared stage builders (plain functions that add logic to a Module)
# --------------------------------------------------------------------------

class Classified:
    """Fields and class flags of a binary32 operand."""

    def __init__(self, m: Module, bits, name: str):
        self.sign = Signal(name=f"{name}_sign")
        self.exp = Signal(EXP_BITS, name=f"{name}_exp")
        self.frac = Signal(FRAC_BITS, name=f"{name}_frac")
        m.d.comb += Cat(self.frac, self.exp, self.sign).eq(bits)
        self.is_zero = Signal(name=f"{name}_is_zero")
        self.is_sub = Signal(name=f"{name}_is_sub")
        self.is_inf = Signal(name=f"{name}_is_inf")
        self.is_nan = Signal(name=f"{name}_is_nan")
        exp_zero, exp_max, frac_zero = self.exp == 0, self.exp == EXP_MAX, self.frac == 0
        m.d.comb += [
            self.is_zero.eq(exp_zero & frac_zero),
            self.is_sub.eq(exp_zero & ~frac_zero),
            self.is_inf.eq(exp_max & frac_zero),
            self.is_nan.eq(exp_max & ~frac_zero),
        ]
        # Significand with the hidden bit (0 for zero and subnormals), and the
        # effective biased exponent: subnormals weigh as exponent 1.
        self.sig = Signal(SIG_BITS, name=f"{name}_sig")
        self.eff_exp = Signal(EXP_BITS, name=f"{name}_eff_exp")
        m.d.comb += [
            self.sig.eq(Cat(self.frac, ~exp_zero)),
            self.eff_exp.eq(Mux(exp_zero, 1, self.exp)),
        ]


def classify(m: Module, bits, name: str) -> Classified:
    return Classified(m, bits, name)


def leading_zeros(m: Module, value, name: str) -> Signal:
    """Count of leading zeros of `value` (its width when value is 0)."""
    width = len(value)
    count = Signal(range(width + 1), name=name)
    # Priority encoder as a mux chain from the LSB up, so the highest set bit
    # wins; synthesis flattens it into a tree.
    lz = Const(width, range(width + 1))
    for i in range(width):
        lz = Mux(value[i], width - 1 - i, lz)
    m.d.comb += count.eq(lz)
    return count


def round_and_pack(m: Module, sign, exp, sig, name: str) -> Signal:
    """Round-to-nearest-even a normalized significand and pack binary32.

    `sig` (W >= 26 bits) has its leading one at bit W-1, or is 0; the value is
    sig / 2^(W-1) * 2^(exp - 127), `exp` a signed biased exponent. Results
    below the normal range are shifted right into a subnormal (sticky kept);
    results at or above exponent 255 after rounding become infinity. Returns
    the 32-bit pattern (the caller handles special operands)."""
    W = len(sig)
    if W < SIG_BITS + 2:
        raise ValueError(f"the significand needs at least {SIG_BITS + 2} bits, not {W}")
    # --- subnormal: shift right by 1 - exp (clamped to W + 1), keep sticky --
    shift = Signal(range(W + 2), name=f"{name}_sub_shift")
    with m.If(exp >= 1):
        m.d.comb += shift.eq(0)
    with m.Elif(exp < 1 - (W + 1)):
        m.d.comb += shift.eq(W + 1)
    with m.Else():
        m.d.comb += shift.eq(1 - exp)
    shifted = Signal(W, name=f"{name}_shifted")
    lost = Signal(name=f"{name}_lost")
    m.d.comb += [
        shifted.eq(sig >> shift),
        lost.eq(((sig >> shift) << shift)[:W] != sig),
    ]
    # --- round: keep 24 bits, guard below, sticky below that ---------------
    kept = shifted[W - SIG_BITS:]
    guard = shifted[W - SIG_BITS - 1]
    sticky = (shifted[:W - SIG_BITS - 1] != 0) | lost
    round_up = Signal(name=f"{name}_round_up")
    m.d.comb += round_up.eq(guard & (sticky | kept[0]))
    # Packing trick: (exp - 1) << 23 plus the significand with its hidden bit
    # gives the exponent field; a rounding carry out of the significand moves
    # into the exponent, which is exactly renormalization (and rounding the
    # largest finite value up gives the infinity pattern). Subnormals use
    # exponent field 0 and their hidden bit is 0; a carry into bit 23 makes
    # them the smallest normal.
    base = Signal(signed(12), name=f"{name}_base")
    m.d.comb += base.eq(Mux(exp >= 1, exp - 1, 0))
    packed = Signal(33, name=f"{name}_packed")
    m.d.comb += packed.eq((base << FRAC_BITS) + kept + round_up)
    result = Signal(32, name=f"{name}_result")
    overflow = (exp >= EXP_MAX) | (packed[FRAC_BITS:] >= EXP_MAX)
    with m.If(sig == 0):
        m.d.comb += result.eq(Cat(Const(0, 31), sign))
    with m.Elif(overflow):
        m.d.comb += result.eq(Cat(Const(0, FRAC_BITS), Const(EXP_MAX, EXP_BITS), sign))
    with m.Else():
        m.d.comb += result.eq(Cat(packed[:31], sign))
    return result


class _Pipelined(wiring.Component):
    """Common tail: `pipeline` output registers after a combinational result."""

    def __init__(self, signature, pipeline: int):
        self._pipeline = check_pipeline(pipeline)
        super().__init__(signature)

    @property
    def latency(self) -> int:
        """Cycles from inputs to `result` (0: combinational)."""
        return self._pipeline

    #: Cut points inside the datapath, in order, that `_cut` may register.
    CUT_POINTS = ()

    def _cut(self, m: Module, point: str, values: dict) -> dict:
        """`values` registered if `point` is among the first `pipeline` cut points."""
        if self.CUT_POINTS.index(point) < self._pipeline:
            return cut(m, values, point)
        return values

    def _output(self, m: Module, value) -> None:
        for i in range(self._pipeline - len(self.CUT_POINTS)):
            value = cut(m, {"result": value}, f"pipe{i}")["result"]
        m.d.comb += self.result.eq(value)


class _BinaryOp(_Pipelined):
    """Two binary32 operands `a`, `b` and a binary32 `result`."""

    def __init__(self, pipeline: int = 0):
        super().__init__({"a": In(32), "b": In(32), "result": Out(32)}, pipeline)


# --------------------------------------------------------------------------
# Adder
# --------------------------------------------------------------------------

class Float32Adder(_BinaryOp):
    """binary32 a + b, round-to-nearest-even. With `pipeline` P, registers
    after align, add and normalize (the first P of them), then at the output."""

    #: Alignment width: 24-bit significand, then guard, round and sticky bits.
    ALIGN_BITS = SIG_BITS + 3
    CUT_POINTS = ("align", "add", "normalize")

    def elaborate(self, platform):
        m = Module()
        # ---------------- classify ----------------
        x = classify(m, self.a, "a")
        y = classify(m, self.b, "b")

        # ---------------- special cases ----------------
        special = Signal()
        special_value = Signal(32)
        with m.If(x.is_nan | y.is_nan | (x.is_inf & y.is_inf & (x.sign != y.sign))):
            m.d.comb += [special.eq(1), special_value.eq(CANONICAL_NAN)]
        with m.Elif(x.is_inf):
            m.d.comb += [special.eq(1), special_value.eq(self.a)]
        with m.Elif(y.is_inf):
            m.d.comb += [special.eq(1), special_value.eq(self.b)]

        # ---------------- align ----------------
        # Order the operands so that |big| >= |small| (compare exponent and
        # fraction as one unsigned number); the difference is then >= 0.
        swap = Signal()
        m.d.comb += swap.eq(self.b[:31] > self.a[:31])
        big_exp = Signal(EXP_BITS)
        small_exp = Signal(EXP_BITS)
        big_sig = Signal(SIG_BITS)
        small_sig = Signal(SIG_BITS)
        m.d.comb += [
            big_exp.eq(Mux(swap, y.eff_exp, x.eff_exp)),
            small_exp.eq(Mux(swap, x.eff_exp, y.eff_exp)),
            big_sig.eq(Mux(swap, y.sig, x.sig)),
            small_sig.eq(Mux(swap, x.sig, y.sig)),
        ]
        A = self.ALIGN_BITS
        diff = Signal(EXP_BITS)
        m.d.comb += diff.eq(big_exp - small_exp)
        # Shift the smaller significand right by diff (at most A, beyond which
        # only its sticky bit survives), OR-ing everything shifted out into
        # the lowest bit: the bits below position dshift, picked by a mask.
        dshift = Signal(range(A + 1))
        m.d.comb += dshift.eq(Mux(diff > A, A, diff))
        small_ext = Signal(A)
        m.d.comb += small_ext.eq(small_sig << 3)
        below = Signal(A)
        m.d.comb += below.eq(~(Const((1 << A) - 1, A + 1) << dshift)[:A])
        aligned = Signal(A)
        m.d.comb += aligned.eq((small_ext >> dshift) | (small_ext & below).any())
        # What the rest needs: exact cancellation is +0 in round-to-nearest;
        # (-0) + (-0) = -0 keeps the sign, which the operands share then.
        v = self._cut(m, "align", {
            "special": special, "special_value": special_value,
            "big_sign": Mux(swap, y.sign, x.sign), "both_neg": x.sign & y.sign,
            "subtract": x.sign != y.sign, "big_exp": big_exp,
            "big_ext": big_sig << 3, "aligned": aligned})

        # ---------------- add ----------------
        # One adder for both: big + ~aligned + 1 = big - aligned. One more bit
        # for the carry of an effective addition; an effective subtraction
        # cannot go negative because |big| >= |small|, and its carry out of
        # bit A is dropped.
        total = Signal(A + 1)
        addend = Signal(A + 1)
        m.d.comb += [addend.eq(Mux(v["subtract"], ~Cat(v["aligned"], Const(0, 1)), v["aligned"])),
                     total.eq(v["big_ext"] + addend + v["subtract"])]
        v = self._cut(m, "add", {
            "special": v["special"], "special_value": v["special_value"],
            "sign": Mux(total == 0, v["both_neg"], v["big_sign"]),
            "big_exp": v["big_exp"], "total": total})

        # ---------------- normalize ----------------
        # total / 2^(A-1) * 2^(big_exp - 127): bring the leading one to bit A.
        # A left shift by more than one only happens after cancellation with
        # diff <= 1, where no sticky bit was made, so it is exact.
        lz = leading_zeros(m, v["total"], "lz")
        norm = Signal(A + 1)
        m.d.comb += norm.eq((v["total"] << lz)[:A + 1])
        exp = Signal(signed(EXP_BITS + 3))
        m.d.comb += exp.eq(v["big_exp"] + 1 - lz)
        v = self._cut(m, "normalize", {
            "special": v["special"], "special_value": v["special_value"],
            "sign": v["sign"], "exp": exp, "norm": norm})

        # ---------------- round ----------------
        rounded = round_and_pack(m, v["sign"], v["exp"], v["norm"], "add")
        self._output(m, Mux(v["special"], v["special_value"], rounded))
        return m


# --------------------------------------------------------------------------
# Multiplier
# --------------------------------------------------------------------------

def significant_bits(bits: int) -> int:
    """Significant bits of the significand of a binary32 pattern (with its
    hidden bit): 1.5 has 2. 0 for zeros, infinities and NaNs; subnormals
    are refused, since a narrow operand (Float32Multiplier) must be normal."""
    exp, frac = (bits >> FRAC_BITS) & EXP_MAX, bits & ((1 << FRAC_BITS) - 1)
    if exp == EXP_MAX or (exp == 0 and frac == 0):
        return 0
    if exp == 0:
        raise ValueError(f"0x{bits:08X} is subnormal; a narrow operand must be normal")
    sig = frac | (1 << FRAC_BITS)
    return SIG_BITS - ((sig & -sig).bit_length() - 1)


class Float32Multiplier(_BinaryOp):
    """binary32 a * b, round-to-nearest-even.

    `a_bits`, `b_bits` (1 to 24, default 24) declare a narrow operand: one
    that is always zero, infinite, NaN or a *normal* number with at most that
    many significant bits (FixedToFloat32.sig_bits of a small integer, a
    scale from an 8-bit table). Its subnormal normalization is left out and
    the significand product is built at that width, which is what a designer
    would build and lets synthesis see the constant zeros. The result is bit
    for bit that of the full multiplier for every such operand; an operand
    outside the declaration gives an undefined result."""

    def __init__(self, pipeline: int = 0, a_bits: int = SIG_BITS, b_bits: int = SIG_BITS):
        for name, v in (("a_bits", a_bits), ("b_bits", b_bits)):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= SIG_BITS:
                raise InputError(f"{name} must be an integer from 1 to {SIG_BITS}, not {v!r}")
        self._bits = (a_bits, b_bits)
        super().__init__(pipeline)

    @property
    def a_bits(self) -> int:
        return self._bits[0]

    @property
    def b_bits(self) -> int:
        return self._bits[1]

    def elaborate(self, platform):
        m = Module()
        # ---------------- classify ----------------
        x = classify(m, self.a, "a")
        y = classify(m, self.b, "b")
        sign = Signal()
        m.d.comb += sign.eq(x.sign ^ y.sign)

        # ---------------- special cases ----------------
        special = Signal()
        special_value = Signal(32)
        with m.If(x.is_nan | y.is_nan | (x.is_inf & y.is_zero) | (x.is_zero & y.is_inf)):
            m.d.comb += [special.eq(1), special_value.eq(CANONICAL_NAN)]
        with m.Elif(x.is_inf | y.is_inf):
            m.d.comb += [special.eq(1), special_value.eq(Cat(Const(0, 23), Const(EXP_MAX, 8), sign))]
        with m.Elif(x.is_zero | y.is_zero):
            m.d.comb += [special.eq(1), special_value.eq(Cat(Const(0, 31), sign))]

        # ---------------- product ----------------
        # Normalize subnormal operands first so the product's leading one is
        # at bit 47 or 46 of the 48-bit product. A narrow operand is normal:
        # only its top `bits` significand bits can be non-zero.
        ops = []
        for op, name, bits in ((x, "a", self.a_bits), (y, "b", self.b_bits)):
            if bits < SIG_BITS:
                ops.append((op.sig[SIG_BITS - bits:], op.eff_exp))
                continue
            lz = leading_zeros(m, op.sig, f"{name}_lz")
            sig = Signal(SIG_BITS, name=f"{name}_nsig")
            exp = Signal(signed(EXP_BITS + 2), name=f"{name}_nexp")
            m.d.comb += [sig.eq((op.sig << lz)[:SIG_BITS]), exp.eq(op.eff_exp - lz)]
            ops.append((sig, exp))
        (sa, ea), (sb, eb) = ops
        product = Signal(2 * SIG_BITS)
        m.d.comb += product.eq((sa * sb) << (2 * SIG_BITS - len(sa) - len(sb)))

        # ---------------- normalize ----------------
        # value = product / 2^46 * 2^(ea + eb - 254); with the leading one at
        # bit 47 that is product / 2^47 * 2^((ea + eb - 126) - 127).
        top = product[-1]
        norm = Signal(2 * SIG_BITS)
        exp = Signal(signed(EXP_BITS + 4))
        m.d.comb += [
            norm.eq(Mux(top, product, product << 1)),
            exp.eq(ea + eb - BIAS + top),
        ]

        # ---------------- round ----------------
        rounded = round_and_pack(m, sign, exp, norm, "mul")
        self._output(m, Mux(special, special_value, rounded))
        return m


# --------------------------------------------------------------------------
# Fixed point -> binary32
# --------------------------------------------------------------------------

class FixedToFloat32(_Pipelined):
    """A signed two's complement fixed-point `value` (width bits, frac_bits
    of them fractional) to binary32, round-to-nearest-even. Exact whenever
    the magnitude has at most 24 significant bits, as in every MAC use.

    With `offset_bits` > 0 it also has a signed `exp_offset` input and a
    `nan` input: the result is fl32(value * 2^exp_offset), rounded once
    (subnormal results rounded to nearest even, overflow to +-inf), or the
    canonical NaN when `nan` is high -- the MAC's multiply by a power-of-two
    (E8M0) block scale, an exponent add and no multiplier."""

    def __init__(self, width: int, frac_bits: int = 0, pipeline: int = 0, offset_bits: int = 0):
        if not isinstance(width, int) or not 2 <= width <= 64:
            raise InputError(f"width must be an integer from 2 to 64, not {width!r}")
        if not isinstance(frac_bits, int) or not -100 <= frac_bits <= 100:
            raise InputError(f"frac_bits must be an integer from -100 to 100, not {frac_bits!r}")
        if not isinstance(offset_bits, int) or not 0 <= offset_bits <= 10:
            raise InputError(f"offset_bits must be an integer from 0 to 10, not {offset_bits!r}")
        self._width, self._frac_bits, self._offset_bits = width, frac_bits, offset_bits
        ports = {"value": In(signed(width)), "result": Out(32)}
        if offset_bits:
            ports.update(exp_offset=In(signed(offset_bits)), nan=In(1))
        super().__init__(ports, pipeline)

    @property
    def width(self) -> int:
        return self._width

    @property
    def frac_bits(self) -> int:
        return self._frac_bits

    @property
    def sig_bits(self) -> int:
        """At most this many significant bits in the result: the magnitude of
        a W-bit value needs W - 1 bits (W only for -2^(W-1), a power of two),
        and rounding keeps 24. With frac_bits <= 126 the result is zero or
        normal, so it can feed a narrow Float32Multiplier operand."""
        return min(max(self._width - 1, 1), SIG_BITS)

    def elaborate(self, platform):
        m = Module()
        W = self._width
        # ---------------- classify ----------------
        sign = Signal()
        mag = Signal(W)
        m.d.comb += [sign.eq(self.value[-1]), mag.eq(Mux(sign, -self.value, self.value))]
        # ---------------- normalize ----------------
        # At least 26 bits so round_and_pack has its guard bit; the magnitude
        # of the most negative value needs all W bits.
        N = max(W, SIG_BITS + 2)
        lz = leading_zeros(m, mag, "lz")
        norm = Signal(N)
        m.d.comb += norm.eq((mag << lz)[:W] << (N - W))
        exp = Signal(signed(12))
        # mag = norm / 2^(N-1) * 2^(W - 1 - lz); times 2^-frac_bits.
        unbiased = BIAS + W - 1 - self._frac_bits - lz
        m.d.comb += exp.eq(unbiased + self.exp_offset if self._offset_bits else unbiased)
        # ---------------- round ----------------
        result = round_and_pack(m, sign & (mag != 0), exp, norm, "fix")
        if self._offset_bits:
            result = Mux(self.nan, CANONICAL_NAN, result)
        self._output(m, result)
        return m
