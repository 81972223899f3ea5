"""The block-scaled MAC unit (docs/contract.md §3, §4, §6): one parameterized
Amaranth component built from one component per stage.

One beat per clock is one block pair: B element codes and a scale byte for
each of A and W. A segment is a run of beats ending with `last`; its dot
product leaves as one binary32 `result`, `latency` cycles after the cycle of
its last beat, with `result_valid` high for one cycle and the segment's
sticky `status`.

Stages (ifmac.golden.config.STAGES), each a component here and a function of
the same name in the golden model (ifmac.golden.model):

    decode -> product -> scale -> group -> multiply -> accumulate -> reduce

* decode: bit 7 of each block's scale byte selects the INT or FP decode of
  that block's elements (IF formats; the others have one decode and no
  mux); every element becomes an exact signed fixed-point value in units of
  2^-frac_bits (the registry's fixed_table).
* product: exact fixed-point products, 2 * frac_bits fraction bits.
* scale: E4M3 scales: S = fl32(fl32(sa * sb) * C), C = 1, float32(e) or
  float32(e^2) by the number of INT sides; 0 when either scale is 0. E8M0
  scales: the exponent sum k = ea + eb - 254 and a NaN flag, no multiplier.
  Also the beat's status flags.
* group: the exact sum of each group of G products (G = 1: none).
* multiply: per group m = fl32(d * S); with E8M0 scales the fixed-to-float
  conversion with k added to its exponent, rounded once.
* accumulate: per group k partial FP32 accumulators (interleave k), beat n
  of a segment into partial n mod k through an adder with k - 1 internal
  registers.
* reduce: after `last`, the pairwise FP32 tree over the groups' partials.

Timing: the register after `multiply` (the accumulator's input) and the
result register are always there; Config.cuts adds registers after the other
stages and between tree levels. valid, last and status travel with the data
through every cut. latency = Config.latency.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ifmac.golden.config import ARCHS, STAGES, Config
from ifmac.golden.kulisch import geometry as kulisch_geometry
from ifmac.golden.formats import (E4M3, E8M0_BIAS, E8M0_NAN, FORMAT_NAMES, Format)
from ifmac.golden.model import STATUS_WIDTH

from .control import beat_status, with_control
from .kulisch import ExactAccumulate, ExactMultiply, ExactRound, ExactScale
from .fp import SIG_BITS, FixedToFloat32, Float32Adder, Float32Multiplier, cut, significant_bits

__all__ = ["MAC", "DEFAULT_CONFIGS", "STAGES", "used", "Decode", "Product", "Scale", "Group",
           "Multiply", "Accumulate", "Reduce"]

#: The default configurations of `make sim` and `make verilog`: every format
#: x arch at its own block size (16; MX 32), plus if4 and nvfp4 at 8 and 32.
DEFAULT_CONFIGS = ([Config.make(f, a) for f in FORMAT_NAMES for a in ARCHS] +
                   [Config.make(f, a, b) for f in ("if4", "nvfp4") for a in ARCHS
                    for b in (8, 32)])

#: binary32 -0: the identity of FP32 addition, a partial no beat reached.
NEG_ZERO = 0x80000000


def _scale_table() -> list[int]:
    """binary32 bits of every 7-bit E4M3 payload, from the golden decode
    (0x7F saturates to 448)."""
    values = E4M3.decode(np.arange(128, dtype=np.uint8))
    return [int(v) for v in values.view(np.uint32)]


def _signed_width(peak: int) -> int:
    return int(peak).bit_length() + 1


# --------------------------------------------------------------------------
# Stage components
# --------------------------------------------------------------------------

class Decode(wiring.Component):
    """decode: codes -> exact fixed-point values (units of 2^-frac_bits) from
    `table` (rows FP and, for adaptive formats, INT picked by bit 7 of the
    block's scale byte)."""

    def __init__(self, config: Config, table: np.ndarray):
        fmt, block_size = config.format, config.block_size
        self._fmt, self._table = fmt, table
        codes = data.ArrayLayout(fmt.bits, block_size)
        values = data.ArrayLayout(signed(_signed_width(np.abs(table).max())), block_size)
        super().__init__({"a": In(codes), "w": In(codes), "a_scale": In(8), "w_scale": In(8),
                          "a_val": Out(values), "w_val": Out(values)})

    def elaborate(self, platform):
        m = Module()
        f, table = self._fmt, self._table
        cases = [(code | (row << f.bits), int(table[row][code]))
                 for row in range(2 if f.adaptive else 1) for code in range(1 << f.bits)]
        for codes, scale, values in ((self.a, self.a_scale, self.a_val),
                                     (self.w, self.w_scale, self.w_val)):
            for i in range(len(codes)):
                select = Cat(codes[i], scale[7]) if f.adaptive else codes[i]
                with m.Switch(select):
                    for key, value in cases[:-1]:
                        with m.Case(key):
                            m.d.comb += values[i].eq(value)
                    with m.Default():
                        m.d.comb += values[i].eq(cases[-1][1])
        return m


class Product(wiring.Component):
    """product: exact fixed-point products (a zero product is +0)."""

    def __init__(self, value_shape, block_size: int, peak: int):
        self._width = _signed_width(peak)
        values = data.ArrayLayout(value_shape, block_size)
        super().__init__({"a_val": In(values), "w_val": In(values),
                          "p": Out(data.ArrayLayout(signed(self._width), block_size))})

    def elaborate(self, platform):
        m = Module()
        for i in range(len(self.p)):
            m.d.comb += self.p[i].eq(self.a_val[i] * self.w_val[i])
        return m


class Group(wiring.Component):
    """group: the exact sum of each group of `size` neighbouring products."""

    def __init__(self, product_shape, block_size: int, size: int):
        self._size = size
        width = product_shape.width + (size - 1).bit_length()
        super().__init__({"p": In(data.ArrayLayout(product_shape, block_size)),
                          "d": Out(data.ArrayLayout(signed(width), block_size // size))})

    def elaborate(self, platform):
        m = Module()
        G = self._size
        for j in range(len(self.d)):
            total = self.p[j * G]
            for i in range(j * G + 1, (j + 1) * G):
                total = total + self.p[i]
            m.d.comb += self.d[j].eq(total)
        return m


class Scale(wiring.Component):
    """scale: the block pair's S (E4M3: binary32 `s`; E8M0: exponent `exp`
    and `nan`) and the beat's status flags (docs/contract.md §5). An IF
    format's S takes the configuration's expansion constants (C^k, or the
    integer class weights of a deferred expansion)."""

    def __init__(self, config: Config):
        fmt = config.format
        self._fmt = fmt
        self._constants = [config.expansion_f32(k) for k in range(3)]
        ports = {"a_scale": In(8), "w_scale": In(8), "status": Out(STATUS_WIDTH)}
        if fmt.scale.power_of_two:
            # k = ea + eb - 254 spans -254 .. 254: beyond binary32 on purpose.
            ports |= {"exp": Out(signed(10)), "nan": Out(1)}
        else:
            ports |= {"s": Out(32)}
        if fmt.adaptive:
            ports |= {"c": Out(32)}     # the expansion constant, seen by the proofs
        super().__init__(ports)

    #: Significant bits of the widest E4M3 scale (4), from the table.
    SCALE_BITS = max(significant_bits(v) for v in _scale_table())

    @property
    def s_bits(self) -> int:
        """The most significant bits S can have (what the tables allow): the
        width of the multiply stage's narrow operand. sa * sb has at most 8;
        times C^k (a rounded binary32) up to 24, times an integer class
        weight its bits more (S is then exact)."""
        if not self._fmt.adaptive:
            return 2 * self.SCALE_BITS
        return min(SIG_BITS, 2 * self.SCALE_BITS
                   + max(significant_bits(k) for k in self._constants))

    def elaborate(self, platform):
        m = Module()
        f = self._fmt
        if f.scale.power_of_two:
            nan = (self.a_scale == E8M0_NAN) | (self.w_scale == E8M0_NAN)
            m.d.comb += [self.exp.eq(self.a_scale + self.w_scale - 2 * E8M0_BIAS),
                         self.nan.eq(nan)]
        else:
            self._e4m3(m)
        beat_status(m, f, self.a_scale, self.w_scale, self.status)
        return m

    def _e4m3(self, m: Module) -> None:
        """S = fl32(fl32(sa * sb) * C)."""
        f = self._fmt
        table = _scale_table()
        scales = []
        for port, name in ((self.a_scale, "sa"), (self.w_scale, "sw")):
            s = Signal(32, name=name)
            with m.Switch(port[:7]):
                for payload, bits in enumerate(table):
                    with m.Case(payload):
                        m.d.comb += s.eq(bits)
            scales.append(s)
        # Every E4M3 scale is zero or a normal binary32 with at most 4
        # significant bits, and so is their exact product with at most 8
        # (2^-9 * 2^-9 is far above the binary32 subnormals).
        scale_bits = self.SCALE_BITS
        smallest = np.array(table[1:], np.uint32).view(np.float32).min()
        if float(smallest) ** 2 < 2.0 ** -126:
            raise ValueError("S = sa * sb must stay a normal binary32 (narrow multiplier)")
        m.submodules.scale_mul = mul_s = Float32Multiplier(a_bits=scale_bits, b_bits=scale_bits)
        m.d.comb += [mul_s.a.eq(scales[0]), mul_s.b.eq(scales[1])]
        if not f.adaptive:
            m.d.comb += self.s.eq(mul_s.result)
            return
        n_int = Signal(2)
        m.d.comb += n_int.eq(self.a_scale[7] + self.w_scale[7])
        c = self.c
        constants = self._constants
        with m.Switch(n_int):
            for k in range(2):
                with m.Case(k):
                    m.d.comb += c.eq(constants[k])
            with m.Default():       # both sides INT
                m.d.comb += c.eq(constants[2])
        m.submodules.scale_exp = mul_c = Float32Multiplier(
            a_bits=2 * scale_bits, b_bits=max(significant_bits(int(k)) for k in constants))
        m.d.comb += [mul_c.a.eq(mul_s.result), mul_c.b.eq(c), self.s.eq(mul_c.result)]


class Multiply(wiring.Component):
    """multiply: per group m = fl32(d / 2^frac_bits * S), rounded once for
    E8M0 scales (the conversion adds k to its exponent)."""

    def __init__(self, fmt: Format, d_shape, groups: int, frac_bits: int, s_bits: int):
        if frac_bits > 126:
            raise ValueError("FixedToFloat32 results must be normal binary32 (narrow operands)")
        self._fmt, self._frac, self._s_bits = fmt, frac_bits, s_bits
        ports = {"d": In(data.ArrayLayout(d_shape, groups)),
                 "m": Out(data.ArrayLayout(32, groups))}
        if fmt.scale.power_of_two:
            ports |= {"exp": In(signed(10)), "nan": In(1)}
        else:
            ports |= {"s": In(32)}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        pow2 = self._fmt.scale.power_of_two
        for j in range(len(self.d)):
            d = self.d[j]
            if pow2:
                m.submodules[f"g{j}_cvt"] = conv = FixedToFloat32(
                    len(d), self._frac, offset_bits=len(self.exp))
                m.d.comb += [conv.value.eq(d), conv.exp_offset.eq(self.exp), conv.nan.eq(self.nan),
                             self.m[j].eq(conv.result)]
                continue
            m.submodules[f"g{j}_cvt"] = conv = FixedToFloat32(len(d), self._frac)
            m.submodules[f"g{j}_mul"] = mul = Float32Multiplier(a_bits=conv.sig_bits,
                                                                b_bits=self._s_bits)
            m.d.comb += [conv.value.eq(d), mul.a.eq(conv.result), mul.b.eq(self.s),
                         self.m[j].eq(mul.result)]
        return m


class Accumulate(wiring.Component):
    """accumulate: per group `interleave` (k) partial FP32 accumulators. Beat
    n of a segment adds into partial n mod k (its first beat replaces it:
    -0 + m = m) through an adder with k - 1 internal registers, so its
    result is written back k cycles later, just before that partial's next
    beat can arrive.
    The outputs follow k - 1 cycles behind the inputs: `partials` are every
    partial with the leaving beat's sum in place (-0 for those the segment
    has not reached), `status` the segment's flags so far."""

    def __init__(self, groups: int, interleave: int):
        self._k = interleave
        super().__init__(with_control({
            "m": In(data.ArrayLayout(32, groups)),
            "partials": Out(data.ArrayLayout(32, groups * interleave))}))

    def elaborate(self, platform):
        m = Module()
        k, groups = self._k, len(self.m)
        # Segment bookkeeping at the adders' inputs: `seen` beats of the open
        # segment so far (saturating at k), the partial `slot` of this beat.
        open_seg = Signal()
        seen = Signal(range(k + 1))
        status = Signal(STATUS_WIDTH)
        first = ~open_seg
        before = Mux(first, 0, seen)
        status_now = Mux(first, self.status, status | self.status)
        with m.If(self.valid):
            m.d.sync += [open_seg.eq(~self.last), status.eq(status_now),
                         seen.eq(Mux(before == k, k, before + 1))]
        slot = Const(0, 1)          # k = 1: one partial (no zero-width signal)
        if k > 1:
            slot_next = Signal(range(k))
            slot = Mux(first, 0, slot_next)
            with m.If(self.valid):
                m.d.sync += slot_next.eq(Mux(slot == k - 1, 0, slot + 1))
        # The control travels k - 1 registers, as the adders' data do, and
        # so do the terms: a partial's first beat is its term (-0 + m = m),
        # picked after the adder, where the select's fan-out to every lane
        # is off the accumulation loop's path.
        v = {"valid": self.valid, "last": self.last, "status": status_now,
             "slot": slot, "used": Mux(before == k, k, before + 1), "fresh": before < k,
             "m": self.m}
        for i in range(k - 1):
            v = cut(m, v, f"acc_pipe{i}")
        m.d.comb += [self.out_valid.eq(v["valid"]), self.out_last.eq(v["last"]),
                     self.out_status.eq(v["status"])]

        for g in range(groups):
            # No reset: a partial's first beat in a segment replaces it.
            accs = [Signal(32, name=f"acc{g}_{j}", reset_less=True) for j in range(k)]
            current = accs[0]
            for j in range(1, k):
                current = Mux(slot == j, accs[j], current)
            m.submodules[f"acc{g}_add"] = add = Float32Adder(pipeline=k - 1)
            m.d.comb += [add.a.eq(current), add.b.eq(self.m[g])]
            total = Mux(v["fresh"], v["m"][g], add.result)
            for j, acc in enumerate(accs):
                with m.If(v["valid"] & (v["slot"] == j)):
                    m.d.sync += acc.eq(total)
                part = Mux(v["slot"] == j, total, acc)
                m.d.comb += self.partials[g * k + j].eq(Mux(v["used"] > j, part, NEG_ZERO))
        return m


class Reduce(wiring.Component):
    """reduce: the pairwise FP32 tree over the `leaves` partials, (0+1),
    (2+3), ..., with a register (data and control) after each level in
    `cuts`."""

    def __init__(self, leaves: int, cuts: set):
        self._cuts = cuts
        super().__init__(with_control({"partials": In(data.ArrayLayout(32, leaves)),
                                        "result": Out(32)}))

    def elaborate(self, platform):
        m = Module()
        v = {"valid": self.valid, "last": self.last, "status": self.status}
        level = [self.partials[i] for i in range(len(self.partials))]
        depth = 0
        while len(level) > 1:
            depth += 1
            sums = []
            for j in range(0, len(level), 2):
                m.submodules[f"tree{depth}_{j // 2}"] = add = Float32Adder()
                m.d.comb += [add.a.eq(level[j]), add.b.eq(level[j + 1])]
                sums.append(add.result)
            level = sums
            if depth in self._cuts:
                v = cut(m, v | {f"s{i}": s for i, s in enumerate(level)}, f"tree{depth}")
                level = [v.pop(f"s{i}") for i in range(len(level))]
        m.d.comb += [self.out_valid.eq(v["valid"]), self.out_last.eq(v["last"]),
                     self.out_status.eq(v["status"]), self.result.eq(level[0])]
        return m


# --------------------------------------------------------------------------
# The MAC
# --------------------------------------------------------------------------

class MAC(wiring.Component):
    """Block-scaled multiply-accumulate unit of one Config."""

    def __init__(self, config: Config):
        if not isinstance(config, Config):
            raise TypeError(f"MAC takes a Config (Config.make(...)), not {config!r}")
        self._config = config
        codes = data.ArrayLayout(self.fmt.bits, self.block_size)
        super().__init__({
            "valid": In(1),
            "last": In(1),
            "a": In(codes),
            "a_scale": In(8),
            "w": In(codes),
            "w_scale": In(8),
            "result_valid": Out(1),
            "result": Out(32),
            "status": Out(STATUS_WIDTH),
        })

    # -- read-only parameters ------------------------------------------------
    @property
    def config(self) -> Config:
        return self._config

    @property
    def fmt(self) -> Format:
        return self._config.format

    @property
    def arch(self) -> str:
        return self._config.arch

    @property
    def block_size(self) -> int:
        return self._config.block_size

    @property
    def latency(self) -> int:
        """Cycles from a segment's last beat to its result_valid."""
        return self._config.latency

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def decode_table(self) -> np.ndarray:
        """What the decode stage is built from: the registry's fixed_table,
        (2, 2^bits) values in units of 2^-frac_bits, row 1 for INT blocks."""
        return self.fmt.fixed_table

    @property
    def probes(self) -> dict:
        """Internal signals of the latest elaboration, observed by the formal
        proofs (ifmac.formal): `a_val`, `w_val`, `products` (lists by lane),
        `dot` (fused), `c` (adaptive formats)."""
        if not hasattr(self, "_probes"):
            raise RuntimeError(f"{self.name} has not been elaborated")
        return self._probes

    def header(self) -> str:
        c = self._config
        f, B = c.format, c.block_size
        if f.adaptive:
            elements = (f"FP side {f.fp.name}, INT side {f.int.encoding} INT{f.bits}, "
                        f"expansion {f.int.expansion}")
        elif f.fp:
            elements = f"{f.fp.name} elements only"
        else:
            elements = f"{f.int.encoding} INT{f.bits} elements only"
        if f.scale.int_flag:
            scale = ("bit 7 = INT flag, bits 6:0 = unsigned E4M3 (0x7F = 448)" if f.adaptive
                     else "bits 6:0 = unsigned E4M3 (0x7F = 448), bit 7 must be 0")
        else:
            scale = "E8M0: 2^(byte - 127), 0xFF = NaN"
        return f"""{self.name}: block-scaled MAC generated by ifmac
format {f.name}: {f.bits}-bit codes, {elements}
arch {c.arch} (group size {c.group}), block size {B}, interleave {c.interleave}{self._exact_line()}
pipeline {c.pipeline}: registers after {', '.join(map(str, c.cuts))}, and the result
LATENCY = {self.latency} cycles (last beat -> result_valid); one beat per clock, no back-pressure
Ports (clk, rst: synchronous, active-high reset):
  input          valid, last       one beat per cycle with valid; last ends a segment
  input  [{B * f.bits - 1}:0] a, w              element i at bits [{f.bits}*i +: {f.bits}]
  input  [7:0]   a_scale, w_scale  {scale}
  output         result_valid      one cycle per segment
  output [31:0]  result            binary32 dot product of the segment
  output [{STATUS_WIDTH - 1}:0]   status            sticky per segment: bit 0 INT flag on a format
                                   without INT/FP choice (ignored), bit 1 a NaN scale code seen
                                   (E4M3 0x7F: decoded as 448; E8M0 0xFF: result NaN), bit 2 the
                                   exact arch's accumulator overflowed (result NaN)
Simulation: the combinational logic is in `always @*` blocks (Amaranth's Verilog backend),
which a Verilog simulator runs only when one of their inputs changes, not at time 0 (unlike
SystemVerilog's always_comb): start the inputs as X, or change each of them once, before the
first clock (the exported testbench starts them as X), or the outputs may stay X.
Lint: verilator --lint-only -Wall with the .vlt file ifmac writes beside this one."""

    def _exact_line(self) -> str:
        """The exact arch's accumulator, on a line of its own (else nothing)."""
        c = self._config
        if not c.exact:
            return ""
        g = kulisch_geometry(c)
        return (f"\nexact: a {g.width}-bit fixed-point accumulator in units of 2^{g.lsb_exp}, "
                "one rounding per segment"
                + (f" after a division by {g.divisor}" if g.divisor > 1 else "")
                + f";\n  exact for any segment of up to {g.longest_exact_segment:,} beats; "
                "past the accumulator's range: NaN and status bit 2")

    # -- elaboration -----------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        c = self._config
        f, B = c.format, c.block_size
        table = self.decode_table
        peak = int(np.abs(table).max())
        # One submodule per stage (STAGES), named so in the Verilog hierarchy
        # (e.g. ifmac_if4_fused_b16.scale), so that a hierarchy-preserving
        # synthesis run reports area and delay per stage; the registers of
        # the cuts between stages stay in the top module.
        m.submodules.decode = decode = Decode(c, table)
        m.submodules.product = product = Product(decode.a_val.shape().elem_shape, B, peak * peak)
        m.submodules.group = group = Group(product.p.shape().elem_shape, B, c.group)
        d_shape = group.d.shape().elem_shape
        if c.exact:
            m.submodules.scale = scale = ExactScale(c)
            m.submodules.multiply = ExactMultiply(c, d_shape, len(scale.sw))
            m.submodules.accumulate = ExactAccumulate(c)
            m.submodules.reduce = ExactRound(c)
        else:
            m.submodules.scale = scale = Scale(c)
            m.submodules.multiply = Multiply(f, d_shape, c.groups, 2 * f.frac_bits, scale.s_bits)
            m.submodules.accumulate = Accumulate(c.groups, c.interleave)
            m.submodules.reduce = Reduce(c.groups * c.interleave, c.tree_cuts)

        # The stages are wired by port name: each input takes the value of
        # that name, each output (out_<name>: a new value of <name>) joins
        # them. What passes a stage is what a later stage or the result
        # register still reads, and a cut after the stage registers all of
        # it: data, valid, last and status alike.
        stages = [m.submodules[name] for name in STAGES]
        ports = [{p: mem.flow for p, mem in st.signature.members.items()} for st in stages]
        needed = {p: i for i, st in enumerate(ports) for p, flow in st.items() if flow == In}
        final = len(STAGES)
        needed |= {p: final for p in ("valid", "last", "status", "result")}
        v = {"valid": self.valid, "last": self.last, "a": self.a, "w": self.w,
             "a_scale": self.a_scale, "w_scale": self.w_scale}
        for i, (name, st) in enumerate(zip(STAGES, stages)):
            m.d.comb += [getattr(st, p).eq(v[p]) for p, flow in ports[i].items() if flow == In]
            v |= {p.removeprefix("out_"): getattr(st, p)
                  for p, flow in ports[i].items() if flow == Out}
            v = {p: x for p, x in v.items() if needed.get(p, -1) > i}
            if name in c.cuts:
                v = cut(m, v, name)

        done = v["valid"] & v["last"]
        m.d.sync += self.result_valid.eq(done)
        with m.If(done):
            m.d.sync += [self.result.eq(v["result"]), self.status.eq(v["status"])]

        self._probes = {"a_val": [decode.a_val[i] for i in range(B)],
                        "w_val": [decode.w_val[i] for i in range(B)],
                        "products": [product.p[i] for i in range(B)]}
        if c.groups == 1:
            self._probes["dot"] = group.d[0]
        if c.exact:
            self._probes |= {"weight": scale.weight, "sw": scale.sw, "shift": scale.shift}
        elif f.adaptive:
            self._probes["c"] = scale.c
        return m


def used(component):
    """`component`, marked as used: a caller elaborates it by hand (to see
    its internal signals) or reads only its parameters, and Amaranth would
    warn that it was never added to a design."""
    component._MustUse__silence = True
    return component
