"""The exact arch's stages (docs/contract.md §3a; golden model:
ifmac.golden.kulisch). They take the place of scale, multiply, accumulate
and reduce of the FP32 archs; decode, product and group (fused: one group)
are the same components.

* scale: each E4M3 scale as sig * 2^E (sig <= 15, E >= -9); the pair's
  sw = sig_a * sig_b * w (w the class weight of its INT blocks, 1 without
  INT blocks) and shift = E_a + E_b + 18; the beat's status flags.
* multiply: the term t = D * sw << shift, an integer in units of 2^L.
* accumulate: a two's-complement fixed-point accumulator, wide enough for
  2^HEADROOM beats of largest terms; an add that leaves its range sets
  status bit ACC_OVERFLOW for the segment.
* reduce: after `last`, |sum| normalized (its leading one found), its top
  bits divided by the constant d^2 (scale expansion of an IF format; no
  divider otherwise) in a restoring divider, and rounded once to binary32
  with everything below as sticky: the correctly rounded sum * 2^L / d^2.
  An exact zero is +0; an overflowed segment the canonical NaN.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ifmac.golden.config import Config
from ifmac.golden.formats import SCALE_NAN_PAYLOAD
from ifmac.golden.kulisch import SCALE_SIG_BITS, geometry
from ifmac.golden.model import STATUS_WIDTH, Status

from .control import beat_status, with_control
from .fp import BIAS, CANONICAL_NAN, SIG_BITS, leading_zeros, round_and_pack

__all__ = ["ExactScale", "ExactMultiply", "ExactAccumulate", "ExactRound"]


class ExactScale(wiring.Component):
    """scale (exact arch): sw = sig_a sig_b w and shift = E_a + E_b + 18."""

    def __init__(self, config: Config):
        self._config, self._geometry = config, geometry(config)
        g = self._geometry
        sig_max = (1 << SCALE_SIG_BITS) - 1
        super().__init__({"a_scale": In(8), "w_scale": In(8), "status": Out(STATUS_WIDTH),
                          "sw": Out((sig_max * sig_max * max(g.weights)).bit_length()),
                          "shift": Out(range(g.max_shift + 1)),
                          "weight": Out(max(g.weights).bit_length())})

    def elaborate(self, platform):
        m = Module()
        f, g = self._config.format, self._geometry
        # Each side's significand and exponent E + 9, kept for the proofs
        # (ifmac.formal.harness.exact_scale).
        self.parts = []
        for side, port in zip("ab", (self.a_scale, self.w_scale)):
            payload = Mux(port[:7] == SCALE_NAN_PAYLOAD, SCALE_NAN_PAYLOAD - 1, port[:7])
            e, frac = payload[3:7], payload[:3]
            normal = e != 0
            sig, exp = Signal(SCALE_SIG_BITS, name=f"sig_{side}"), Signal(4, name=f"exp_{side}")
            m.d.comb += [sig.eq(Mux(normal, Cat(frac, Const(1, 1)), frac)),
                         exp.eq(Mux(normal, e - 1, 0))]
            self.parts.append((sig, exp))
        (sig_a, e_a), (sig_b, e_b) = self.parts
        if f.adaptive:
            int_sides = self.a_scale[7] + self.w_scale[7]
            m.d.comb += self.weight.eq(Mux(int_sides == 0, g.weights[0],
                                           Mux(int_sides == 1, g.weights[1], g.weights[2])))
        else:
            m.d.comb += self.weight.eq(1)
        m.d.comb += [self.sw.eq(sig_a * sig_b * self.weight), self.shift.eq(e_a + e_b)]
        beat_status(m, f, self.a_scale, self.w_scale, self.status)
        return m


class ExactMultiply(wiring.Component):
    """multiply (exact arch): t = D * sw << shift."""

    def __init__(self, config: Config, d_shape, sw_width: int):
        g = geometry(config)
        super().__init__({"d": In(d_shape), "sw": In(sw_width), "shift": In(range(g.max_shift + 1)),
                          "t": Out(signed(g.term_bits + 1))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.t.eq((self.d * self.sw) << self.shift)
        return m


class ExactAccumulate(wiring.Component):
    """accumulate (exact arch): `total`, the segment's sum with this beat's
    term, leaves in the beat's cycle; the accumulator keeps it. A segment's
    first beat replaces the sum. status bit ACC_OVERFLOW: an add of the
    segment overflowed (two operands of one sign, a sum of the other)."""

    def __init__(self, config: Config):
        g = geometry(config)
        super().__init__(with_control({"t": In(signed(g.term_bits + 1)),
                                        "total": Out(signed(g.width))}))

    def elaborate(self, platform):
        m = Module()
        acc = Signal.like(self.total, name="acc", reset_less=True)
        open_seg = Signal()
        status = Signal(STATUS_WIDTH)
        first = ~open_seg
        total = Signal.like(self.total, name="sum")
        m.d.comb += total.eq(Mux(first, self.t, acc + self.t))
        overflow = ~first & (acc[-1] == self.t[-1]) & (total[-1] != acc[-1])
        status_now = (Mux(first, 0, status) | self.status
                      | (overflow << Status.ACC_OVERFLOW.bit))
        with m.If(self.valid):
            m.d.sync += [acc.eq(total), open_seg.eq(~self.last), status.eq(status_now)]
        m.d.comb += [self.total.eq(total), self.out_valid.eq(self.valid),
                     self.out_last.eq(self.last), self.out_status.eq(status_now)]
        return m


def divide_by_constant(m: Module, value, divisor: int, name: str):
    """Restoring division of unsigned `value` by the constant `divisor`:
    (quotient, remainder != 0)."""
    if divisor == 1:
        return value, Const(0, 1)
    b = divisor.bit_length()
    rem = Const(0, b)
    bits = []
    for i in reversed(range(len(value))):
        trial = Signal(b + 1, name=f"{name}_trial{i}")
        m.d.comb += trial.eq(Cat(value[i], rem))
        take = trial >= divisor
        bits.append(take)
        rem = Mux(take, trial - divisor, trial)[:b]
    quotient = Signal(len(value), name=f"{name}_q")
    m.d.comb += quotient.eq(Cat(*reversed(bits)))
    return quotient, rem != 0


class ExactRound(wiring.Component):
    """reduce (exact arch): the segment's sum * 2^L / divisor rounded to
    binary32, nearest-even."""

    def __init__(self, config: Config):
        self._geometry = g = geometry(config)
        super().__init__(with_control({"total": In(signed(g.width)), "result": Out(32)}))

    @staticmethod
    def sticky(below, remainder):
        """What lies below the quotient's bits: the accumulator's bits below
        the divided ones, and the division's remainder."""
        return ((below != 0) if len(below) else Const(0, 1)) | remainder

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        A, b = g.width, g.divisor.bit_length()
        W = SIG_BITS + 2 + b        # quotient bits: at least 26 significant
        sign = self.total[-1]
        mag = Signal(A, name="mag")
        m.d.comb += mag.eq(Mux(sign, -self.total, self.total))
        lz = leading_zeros(m, mag, "lz")
        norm = Signal(max(A, W), name="norm")
        m.d.comb += norm.eq((mag << lz)[:A] << max(0, W - A))
        top, below = norm[-W:], norm[:-W]
        q, rem = divide_by_constant(m, top, g.divisor, "div")
        # The quotient's leading one is at bit W - b or W - b - 1.
        high = q[W - b]
        qn = Mux(high, q[:W - b + 1], Cat(Const(0, 1), q[:W - b]))
        sig = Cat(self.sticky(below, rem), qn)
        exp = Signal(signed(12), name="exp")
        # |sum| = (top + below) 2^(A - W - lz), top / divisor = q + rem.
        m.d.comb += exp.eq(BIAS + A - b + g.lsb_exp - lz - ~high)
        result = round_and_pack(m, sign, exp, sig, "round")
        m.d.comb += [self.result.eq(Mux(self.status[Status.ACC_OVERFLOW.bit],
                                        CANONICAL_NAN, result)),
                     self.out_valid.eq(self.valid), self.out_last.eq(self.last),
                     self.out_status.eq(self.status)]
        return m
