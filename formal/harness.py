"""Proof harnesses: the real MAC (or FP32 unit) next to a small reference
written for the proof, with Amaranth assertions that SymbiYosys proves.

Every input of a harness is free in every cycle, so a proved assertion holds
for all input values and, in the sequential harnesses, for every input
sequence from reset (ABC's PDR proves it unbounded: it finds an inductive
invariant, it does not stop at a depth).

* `datapath`: each lane's decoded value equals the registry's value table
  (exact Fractions times 2^frac_bits, not the fixed_table the RTL is built
  from), for every code and INT flag; each product equals the product of the
  two table values; the fused dot product D equals the sum of the products,
  computed wide enough never to overflow; the expansion constant C is the
  registry's for the number of INT sides, for every pair of scale bytes.
* `control`: result_valid, one per segment exactly `latency` cycles after
  its last beat, status the OR of its beats' flags, gaps and reset as
  docs/contract.md §4 says, against a shift-register model of that text.
* `pipelined_unit`: a unit with P output registers equals its combinational
  version delayed by P cycles.
* `adder_commutes`: Float32Adder(a, b) == Float32Adder(b, a), every bit.
* `exact_scale`, `exact_round`: the exact arch's scale stage (class weight,
  the scale part of a term) for every scale pair, and its end of segment
  (correct rounding of the accumulator divided by d^2) for every
  accumulator value, stated without a division.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.hdl import Assert

from ifmac.golden.config import Expansion
from ifmac.golden.formats import E4M3, E8M0_NAN, SCALE_INT_FLAG, SCALE_NAN_PAYLOAD, f32_bits
from ifmac.golden.model import STATUS_WIDTH, Status
from ifmac.golden.kulisch import geometry
from ifmac.hdl.fp import Float32Adder
from ifmac.hdl.kulisch import ExactRound, ExactScale
from ifmac.hdl.mac import MAC, used

__all__ = ["datapath", "control", "pipelined_unit", "adder_commutes", "used"]


def _mac_inputs(dut: MAC) -> list:
    return [dut.valid, dut.last, dut.a.as_value(), dut.a_scale, dut.w.as_value(), dut.w_scale]


def _reference_rows(fmt) -> list[list[int]]:
    """The value table in units of 2^-frac_bits, rows FP (and INT), from the
    registry's exact values."""
    rows = []
    for is_int in (False, True) if fmt.adaptive else (False,):
        row = []
        for v in fmt.values(is_int):
            fixed = Fraction(v) * (1 << fmt.frac_bits)
            if fixed.denominator != 1:
                raise ValueError(f"{fmt.name}: {v} is not a multiple of 2^-{fmt.frac_bits}")
            row.append(int(fixed))
        rows.append(row)
    return rows


def exact_scale(config) -> tuple[Module, list]:
    """The exact arch's scale stage (ExactScale, which its MAC instantiates;
    its decode, product and group are the fused MAC's, proved by `datapath`)
    for every pair of scale bytes: each side's significand and exponent
    make the registry's E4M3 value, sig 2^(E+9) = s 2^9; the class weight is
    d^2 C^k (1 without INT blocks); sw and shift are their product and sum,
    so sw 2^shift = (sa 2^9)(sb 2^9) w. (Stated as one product, the
    multipliers take a SAT solver minutes; stated so, seconds.)"""
    f = config.format
    m = Module()
    dut = ExactScale(config)
    m.submodules.scale = used(dut).elaborate(None)       # its `parts` are seen
    scales = Signal(8, name="a_scale"), Signal(8, name="w_scale")
    m.d.comb += [dut.a_scale.eq(scales[0]), dut.w_scale.eq(scales[1])]
    units = [int(v * 512) for v in E4M3.decode(np.arange(128, dtype=np.uint8))]
    table = Array(Const(u, 18) for u in units)
    c = f.int.expansion if f.adaptive else Fraction(1)
    weights = [int(c.denominator ** 2 * c ** k) for k in range(3)]
    int_sides = (scales[0][7].as_unsigned() + scales[1][7].as_unsigned()) if f.adaptive else 0
    weight = Array(Const(w, 16) for w in weights)[int_sides]
    (sig_a, e_a), (sig_b, e_b) = dut.parts
    m.d.comb += [Assert((sig << e) == table[s[:7]], f"scale {side} = sig 2^E")
                 for side, (sig, e), s in zip("ab", dut.parts, scales)]
    m.d.comb += [Assert(dut.weight == weight, "class weight"),
                 Assert(dut.sw == sig_a * sig_b * dut.weight, "sw = sig_a sig_b w"),
                 Assert(dut.shift == e_a + e_b, "shift = E_a + E_b + 18")]
    return m, list(scales)


def datapath(dut: MAC) -> tuple[Module, list]:
    """Decode, products, D (fused) and C (adaptive) of `dut` against the
    registry, for all inputs (one combinational cycle)."""
    f, B = dut.fmt, dut.block_size
    m = Module()
    m.submodules.mac = used(dut).elaborate(None)
    probes = dut.probes
    rows = _reference_rows(f)
    peak = max(abs(v) for row in rows for v in row)
    value_width = peak.bit_length() + 1
    tables = [Array(Const(v, signed(value_width)) for v in row) for row in rows]

    def reference(codes, scale, side: str, i: int) -> Signal:
        v = Signal(signed(value_width), name=f"ref_{side}{i}")
        code = codes[i]
        m.d.comb += v.eq(tables[0][code] if len(tables) == 1 else
                         Mux(scale[7], tables[1][code], tables[0][code]))
        return v

    ref_products = []
    for i in range(B):
        ra = reference(dut.a, dut.a_scale, "a", i)
        rw = reference(dut.w, dut.w_scale, "w", i)
        ref_products.append(ra * rw)
        m.d.comb += [Assert(probes["a_val"][i] == ra, f"decode a{i}"),
                     Assert(probes["w_val"][i] == rw, f"decode w{i}"),
                     Assert(probes["products"][i] == ref_products[i], f"product {i}")]
    if "dot" in probes:
        # Wide enough for B products of the largest magnitude: no overflow.
        dot = Signal(signed((peak * peak * B).bit_length() + 1), name="ref_dot")
        total = 0
        for p in ref_products:
            total = total + p
        m.d.comb += [dot.eq(total), Assert(probes["dot"] == dot, "dot product")]
    if f.adaptive:
        # C^k from the registry, or with a deferred expansion d^2 C^k, an
        # integer (C = n/d), for k INT sides.
        c = f.int.expansion
        constants = ([f.expansion_f32(k) for k in range(3)]
                     if dut.config.expansion == Expansion.SCALE else
                     [f32_bits(float(c.denominator ** 2 * c ** k)) for k in range(3)])
        int_sides = dut.a_scale[7].as_unsigned() + dut.w_scale[7].as_unsigned()
        expected = Array(Const(v, 32) for v in constants)[int_sides]
        m.d.comb += Assert(probes["c"] == expected, "expansion constant C")
    return m, _mac_inputs(dut)


def _beat_flags(dut: MAC) -> tuple[Signal, list]:
    """A beat's status bits as docs/contract.md §5 defines them, and the
    statements that drive them."""
    f = dut.fmt
    flags = Signal(STATUS_WIDTH, name="ref_beat_flags")
    scales = (dut.a_scale, dut.w_scale)
    if f.scale.int_flag:
        nan = [s[:7] == SCALE_NAN_PAYLOAD for s in scales]
    else:
        nan = [s == E8M0_NAN for s in scales]
    int_flag = [(s & SCALE_INT_FLAG) != 0 for s in scales]
    bits = {Status.SCALE_NAN_PAYLOAD: nan[0] | nan[1],
            Status.INT_FLAG_ON_FP_FORMAT: (int_flag[0] | int_flag[1]) if f.flag_reserved else 0}
    return flags, [flags[k.bit].eq(v) for k, v in bits.items()]


def control(dut: MAC) -> tuple[Module, list]:
    """result_valid and status of `dut` against the contract's control, for
    every sequence of valid, last, scale bytes and reset."""
    m = Module()
    m.submodules.mac = dut
    flags, drive = _beat_flags(dut)
    m.d.comb += drive
    # The open segment: its status so far, with this beat's flags.
    is_open = Signal(name="ref_open")
    status = Signal(STATUS_WIDTH, name="ref_status")
    seg_status = Mux(is_open, status | flags, flags)
    with m.If(dut.valid):
        m.d.sync += [is_open.eq(~dut.last), status.eq(seg_status)]
    # Segments in flight: a result leaves `latency` cycles after its last
    # beat; the sync domain's reset empties the line, as it drops the open
    # segment.
    due_valid = dut.valid & dut.last
    due_status = seg_status
    for k in range(dut.latency):
        v = Signal(name=f"ref_due{k}")
        s = Signal(STATUS_WIDTH, name=f"ref_due{k}_status")
        m.d.sync += [v.eq(due_valid), s.eq(due_status)]
        due_valid, due_status = v, s
    m.d.comb += Assert(dut.result_valid == due_valid, "result_valid latency cycles after last")
    # The exact arch's ACC_OVERFLOW depends on the data, not the control:
    # simulation checks it (the longest segment and one beat more).
    scale_bits = [k.bit for k in Status if k != Status.ACC_OVERFLOW]
    with m.If(dut.result_valid):
        m.d.comb += Assert(Cat(dut.status[b] for b in scale_bits) ==
                           Cat(due_status[b] for b in scale_bits), "status of the segment")
        if not dut.config.exact:
            m.d.comb += Assert(dut.status[Status.ACC_OVERFLOW.bit] == 0, "no overflow flag")
    return m, _mac_inputs(dut)


def pipelined_unit(make, pipeline: int) -> tuple[Module, list]:
    """`make(pipeline)` builds an FP32 unit; its pipelined version's result
    equals the combinational one's delayed by `pipeline` cycles."""
    m = Module()
    m.submodules.comb = comb = make(0)
    m.submodules.piped = piped = make(pipeline)
    inputs = []
    for name, member in comb.signature.members.items():
        if member.flow.name == "In":
            port = Signal(member.shape, name=name)
            m.d.comb += [getattr(comb, name).eq(port), getattr(piped, name).eq(port)]
            inputs.append(port)
    delayed = comb.result
    for k in range(pipeline):
        reg = Signal(32, name=f"ref_delay{k}")
        m.d.sync += reg.eq(delayed)
        delayed = reg
    # The unit's pipeline registers have no reset (data only): compare once
    # `pipeline` cycles have filled them with inputs.
    filled = Signal(range(pipeline + 1), name="ref_filled")
    with m.If(filled < pipeline):
        m.d.sync += filled.eq(filled + 1)
    with m.If(filled == pipeline):
        m.d.comb += Assert(piped.result == delayed, "pipelined == combinational, delayed")
    return m, inputs


def adder_commutes() -> tuple[Module, list]:
    """Float32Adder is commutative, bit for bit (NaN results are canonical)."""
    m = Module()
    a, b = Signal(32, name="a"), Signal(32, name="b")
    m.submodules.ab = ab = Float32Adder()
    m.submodules.ba = ba = Float32Adder()
    m.d.comb += [ab.a.eq(a), ab.b.eq(b), ba.a.eq(b), ba.b.eq(a),
                 Assert(ab.result == ba.result, "a + b == b + a")]
    return m, [a, b]


def exact_round(config, stage=None) -> tuple[Module, list]:
    """The exact arch's end of segment (ExactRound) for every accumulator
    value: its result r = m 2^e (m the 24-bit significand) is the value
    v = total 2^L / divisor rounded to nearest, ties to even, stated without
    a division: |total 2^(L+K) - m divisor 2^(e+K)| <= divisor 2^(e+K-1),
    even m on equality; +0 for 0; sign of total; never subnormal, infinite
    or NaN (no E4M3 segment reaches those). `stage`: another class than
    ExactRound (a mutant)."""
    g = geometry(config)
    m = Module()
    m.submodules.dut = dut = (stage or ExactRound)(config)
    total = Signal(signed(g.width), name="total")
    m.d.comb += [dut.total.eq(total), dut.status.eq(0), dut.valid.eq(1), dut.last.eq(1)]
    r = dut.result
    mag = Signal(g.width, name="ref_mag")
    m.d.comb += mag.eq(Mux(total < 0, -total, total))
    field = r[23:31]
    sig = Cat(r[:23], Const(1, 1))
    # In units of 2^(L-K): total 2^K, and m divisor 2^(e - L + K) with
    # e = field - 150; K makes the smallest shift non-negative.
    K = max(0, -(1 - 150 - g.lsb_exp) + 1)
    shift = Signal(range(256 + K + 1), name="ref_shift")
    m.d.comb += shift.eq(field + (K - 150 - g.lsb_exp))
    width = g.width + K + 40
    x = Signal(width, name="ref_x")
    y = Signal(width, name="ref_y")
    half = Signal(width, name="ref_half")
    m.d.comb += [x.eq(mag << K), y.eq((sig * g.divisor) << shift),
                 half.eq(Const(g.divisor, 16) << shift >> 1)]
    diff = Signal(width + 1, name="ref_diff")
    m.d.comb += diff.eq(Mux(x >= y, x - y, y - x))
    with m.If(total == 0):
        m.d.comb += Assert(r == 0, "an exact zero is +0")
    with m.Else():
        m.d.comb += [Assert(r[31] == total[-1], "sign"),
                     Assert((field != 0) & (field != 255), "normal"),
                     Assert(diff <= half, "within half an ulp"),
                     Assert((diff != half) | ~r[0], "ties to even")]
    return m, [total]
