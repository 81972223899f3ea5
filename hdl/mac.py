"""The block-scaled MAC unit (docs/contract.md §3, §4) as one parameterized Amaranth component.

One beat per clock is one block pair: B element codes and a scale byte for
each of A and W. A segment is a run of beats ending with `last`; its dot
product leaves as one binary32 `result`, `latency` cycles after the cycle of
its last beat, with `result_valid` high for one cycle and the segment's
sticky `status`.

Stages, the same as the golden model's (ifmac.golden.model):

    decode -> product -> scale -> (lane | fused) multiply -> accumulate -> reduce

* decode: bit 7 of each block's scale byte selects the INT or FP decode of
  that block's elements (IF formats; the others have one decode and no
  mux); every element becomes an exact signed fixed-point value in units of
  2^-frac_bits (the registry's fixed_table).
* product: exact fixed-point products, 2 * frac_bits fraction bits.
* scale: E4M3 scales: S = fl32(fl32(sa * sb) * C), C = 1, float32(e) or
  float32(e^2) by the number of INT sides; 0 when either scale is 0. E8M0
  scales: the exponent sum k = ea + eb - 254 and a NaN flag, no multiplier.
* lane: per lane m_i = fl32(p_i * S) and an FP32 accumulator per lane; after
  `last` a pairwise FP32 tree (0+1), (2+3), ... gives the result.
* fused: D = sum p_i exactly, m = fl32(D * S), one FP32 accumulator.
  With E8M0 scales fl32(x * 2^k) is the fixed-to-float conversion with k
  added to its exponent, rounded once.

Timing: stage 1 (decode .. multiply) is combinational from the input ports
into a register; `pipeline` extra register stages follow it (retiming moves
them back into the front end); stage 2 accumulates and, on `last`, reduces
into the result register. latency = 2 + pipeline.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ifmac.golden.formats import (E4M3, E8M0_BIAS, E8M0_NAN, FORMAT_NAMES, SCALE_NAN_PAYLOAD,
                                  Format, check_block_size, get_format)
from ifmac.golden.model import ARCHS, STATUS_BITS, STATUS_WIDTH, check_arch

from .fp import (SIG_BITS, FixedToFloat32, Float32Adder, Float32Multiplier, check_pipeline,
                 significant_bits)

__all__ = ["MAC", "module_name", "DEFAULT_CONFIGS", "STAGES", "used"]

#: The datapath stages, each one submodule of the MAC (named so in the
#: Verilog hierarchy, e.g. ifmac_if4_fused_b16.scale). `reduce` is the
#: reduction across lanes: the exact integer sum of the products in `fused`,
#: the pairwise FP32 tree after accumulation in `lane`.
STAGES = ("decode", "product", "scale", "multiply", "accumulate", "reduce")

#: The default configurations (format, arch, block size) of `make sim` and
#: `make verilog`: every format x arch at its own block size (16; MX 32),
#: plus if4 and nvfp4 at 8 and 32.
DEFAULT_CONFIGS = ([(f, a, get_format(f).block_size) for f in FORMAT_NAMES for a in ARCHS] +
                   [(f, a, b) for f in ("if4", "nvfp4") for a in ARCHS for b in (8, 32)])


def module_name(fmt, arch: str, block_size: int, pipeline: int = 0) -> str:
    """Verilog module name carrying the parameters, e.g. ifmac_if4_fused_b16."""
    name = f"ifmac_{get_format(fmt).name}_{arch}_b{block_size}"
    return name + (f"_p{pipeline}" if pipeline else "")


def _scale_table() -> list[int]:
    """binary32 bits of every 7-bit E4M3 payload, from the golden decode
    (0x7F saturates to 448)."""
    values = E4M3.decode(np.arange(128, dtype=np.uint8))
    return [int(v) for v in values.view(np.uint32)]


class MAC(wiring.Component):
    """Block-scaled multiply-accumulate unit for one registry format.

    Parameters: `fmt` (registry name), `arch` ("lane" or "fused"),
    `block_size` (8, 16 or 32), `pipeline` (extra register stages, >= 0).
    """

    def __init__(self, fmt, arch: str = "fused", block_size: int = 16, pipeline: int = 0):
        self._fmt = get_format(fmt)
        self._arch = check_arch(arch)
        self._block_size = check_block_size(block_size)
        self._pipeline = check_pipeline(pipeline)
        codes = data.ArrayLayout(self._fmt.bits, self._block_size)
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
    def fmt(self) -> Format:
        return self._fmt

    @property
    def arch(self) -> str:
        return self._arch

    @property
    def block_size(self) -> int:
        return self._block_size

    @property
    def pipeline(self) -> int:
        return self._pipeline

    @property
    def latency(self) -> int:
        """Cycles from a segment's last beat to its result_valid."""
        return 2 + self._pipeline

    @property
    def name(self) -> str:
        return module_name(self._fmt, self._arch, self._block_size, self._pipeline)

    # -- widths --------------------------------------------------------------
    @property
    def value_width(self) -> int:
        """Signed width of a decoded element (fixed point, frac_bits fractional)."""
        peak = int(np.abs(self.decode_table).max())
        return peak.bit_length() + 1

    @property
    def product_width(self) -> int:
        peak = int(np.abs(self.decode_table).max()) ** 2
        return peak.bit_length() + 1

    @property
    def dot_width(self) -> int:
        """Signed width of the fused dot product: products plus log2(B) bits."""
        return self.product_width + (self._block_size - 1).bit_length()

    @property
    def decode_table(self) -> np.ndarray:
        """What the decode stage is built from: the registry's fixed_table,
        (2, 2^bits) values in units of 2^-frac_bits, row 1 for INT blocks."""
        return self._fmt.fixed_table

    @property
    def probes(self) -> dict:
        """Internal signals of the latest elaboration, observed by the formal
        proofs (ifmac.formal): `a_val`, `w_val`, `products` (lists by lane),
        `dot` (fused), `c` (adaptive formats)."""
        if not hasattr(self, "_probes"):
            raise RuntimeError(f"{self.name} has not been elaborated")
        return self._probes

    def header(self) -> str:
        f, B = self._fmt, self._block_size
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
arch {self._arch}, block size {B}, pipeline {self._pipeline}
LATENCY = {self.latency} cycles (last beat -> result_valid); one beat per clock, no back-pressure
Ports (clk, rst: synchronous, active-high reset):
  input          valid, last       one beat per cycle with valid; last ends a segment
  input  [{B * f.bits - 1}:0] a, w              element i at bits [{f.bits}*i +: {f.bits}]
  input  [7:0]   a_scale, w_scale  {scale}
  output         result_valid      one cycle per segment
  output [31:0]  result            binary32 dot product of the segment
  output [{STATUS_WIDTH - 1}:0]   status            sticky per segment: bit 0 INT flag on a format
                                   without INT/FP choice (ignored), bit 1 a NaN scale code seen
                                   (E4M3 0x7F: decoded as 448; E8M0 0xFF: result NaN)"""

    # -- elaboration -----------------------------------------------------------
    def _decode(self, m: Module, codes, is_int, name: str) -> list:
        """decode: per lane, the exact fixed-point value of each code; bit 7 of
        the block's scale byte (is_int) selects the INT row of the table."""
        f = self._fmt
        table = self.decode_table
        values = []
        for i in range(self._block_size):
            v = Signal(signed(self.value_width), name=f"{name}_val{i}")
            select = Cat(codes[i], is_int) if f.adaptive else codes[i]
            cases = [(code | (row << f.bits), int(table[row][code]))
                     for row in range(2 if f.adaptive else 1) for code in range(1 << f.bits)]
            with m.Switch(select):
                for key, value in cases[:-1]:
                    with m.Case(key):
                        m.d.comb += v.eq(value)
                with m.Default():
                    m.d.comb += v.eq(cases[-1][1])
            values.append(v)
        return values

    def _scale_e8m0(self, m: Module) -> tuple[Signal, Signal]:
        """scale, E8M0: the exponent k = ea + eb - 254 of S = 2^k (-254 ..
        254, beyond binary32's range on purpose) and whether either byte is
        NaN."""
        k = Signal(signed(10), name="scale_exp")
        nan = Signal(name="scale_nan")
        m.d.comb += [k.eq(self.a_scale + self.w_scale - 2 * E8M0_BIAS),
                     nan.eq((self.a_scale == E8M0_NAN) | (self.w_scale == E8M0_NAN))]
        return k, nan

    def _scale(self, m: Module) -> tuple[Signal, int]:
        """scale, E4M3: S = fl32(fl32(sa * sb) * C), and the most significant
        bits S can have (narrow multiplier operands: what the table allows)."""
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
        scale_bits = max(significant_bits(v) for v in table)
        smallest = np.array(table[1:], np.uint32).view(np.float32).min()
        if float(smallest) ** 2 < 2.0 ** -126:
            raise ValueError("S = sa * sb must stay a normal binary32 (narrow multiplier)")
        m.submodules.scale_mul = mul_s = Float32Multiplier(a_bits=scale_bits, b_bits=scale_bits)
        m.d.comb += [mul_s.a.eq(scales[0]), mul_s.b.eq(scales[1])]
        if not f.adaptive:
            return mul_s.result, 2 * scale_bits
        n_int = Signal(2)
        m.d.comb += n_int.eq(self.a_scale[7] + self.w_scale[7])
        c = Signal(32)
        constants = [f.expansion_f32(k) for k in range(3)]
        with m.Switch(n_int):
            for k in range(2):
                with m.Case(k):
                    m.d.comb += c.eq(constants[k])
            with m.Default():       # both sides INT
                m.d.comb += c.eq(constants[2])
        self._probes["c"] = c
        m.submodules.scale_exp = mul_c = Float32Multiplier(
            a_bits=2 * scale_bits, b_bits=max(significant_bits(int(k)) for k in constants))
        m.d.comb += [mul_c.a.eq(mul_s.result), mul_c.b.eq(c)]
        return mul_c.result, SIG_BITS

    def elaborate(self, platform):
        m = Module()
        f, B = self._fmt, self._block_size
        frac2 = 2 * f.frac_bits
        if frac2 > 126:
            raise ValueError("FixedToFloat32 results must be normal binary32 (narrow operands)")
        # One submodule per stage (STAGES), so that a hierarchy-preserving
        # synthesis run reports area and delay per stage; registers between
        # stages and the control stay in the top module.
        stage = {name: Module() for name in STAGES}
        self._probes = {}
        for name, sm in stage.items():
            m.submodules[name] = sm

        # ---------------- stage 1: decode ----------------
        a_int = self.a_scale[7] if f.adaptive else None
        w_int = self.w_scale[7] if f.adaptive else None
        a_val = self._decode(stage["decode"], self.a, a_int, "a")
        w_val = self._decode(stage["decode"], self.w, w_int, "w")

        # ---------------- stage 1: product ----------------
        # Exact fixed point: a zero product is +0 (no -0 in two's complement).
        products = []
        for i in range(B):
            p = Signal(signed(self.product_width), name=f"p{i}")
            stage["product"].d.comb += p.eq(a_val[i] * w_val[i])
            products.append(p)

        self._probes.update(a_val=a_val, w_val=w_val, products=products)

        # ---------------- stage 1: scale ----------------
        pow2 = f.scale.power_of_two
        if pow2:
            k, nan = self._scale_e8m0(stage["scale"])
        else:
            S, s_bits = self._scale(stage["scale"])

        # ---------------- stage 1: lane / fused multiply ----------------
        def times_scale(prefix: str, value: Signal) -> Signal:
            """fl32(fl32(value / 2^frac2) * S), in the multiply stage; with
            E8M0 scales fl32(value / 2^frac2 * 2^k), one conversion."""
            mul_stage = stage["multiply"]
            if pow2:
                mul_stage.submodules[f"{prefix}_cvt"] = conv = FixedToFloat32(
                    len(value), frac2, offset_bits=len(k))
                mul_stage.d.comb += [conv.value.eq(value), conv.exp_offset.eq(k),
                                     conv.nan.eq(nan)]
                return conv.result
            mul_stage.submodules[f"{prefix}_cvt"] = conv = FixedToFloat32(len(value), frac2)
            mul_stage.submodules[f"{prefix}_mul"] = mul = Float32Multiplier(
                a_bits=conv.sig_bits, b_bits=s_bits)
            mul_stage.d.comb += [conv.value.eq(value), mul.a.eq(conv.result), mul.b.eq(S)]
            return mul.result

        if self._arch == "lane":
            terms = [times_scale(f"lane{i}", products[i]) for i in range(B)]
        else:
            # The fused reduction across lanes: the exact sum of the products.
            dot = Signal(signed(self.dot_width))
            total = products[0]
            for p in products[1:]:
                total = total + p
            stage["reduce"].d.comb += dot.eq(total)
            self._probes["dot"] = dot
            terms = [times_scale("dot", dot)]

        beat_status = Signal(STATUS_WIDTH)
        flag_bits = []
        if f.flag_reserved:
            flag_bits.append((STATUS_BITS["int_flag_on_fp_format"],
                              self.a_scale[7] | self.w_scale[7]))
        flag_bits.append((STATUS_BITS["scale_nan_payload"], nan if pow2 else
                          (self.a_scale[:7] == SCALE_NAN_PAYLOAD) |
                          (self.w_scale[:7] == SCALE_NAN_PAYLOAD)))
        for bit, value in flag_bits:
            m.d.comb += beat_status[bit].eq(value)

        # ---------------- stage 1 register and extra pipeline stages ----------
        valid, last, status, m_terms = self.valid, self.last, beat_status, terms
        for k in range(1 + self._pipeline):
            nv, nl = Signal(name=f"s{k}_valid"), Signal(name=f"s{k}_last")
            ns = Signal(STATUS_WIDTH, name=f"s{k}_status")
            nt = [Signal(32, name=f"s{k}_m{i}") for i in range(len(terms))]
            m.d.sync += [nv.eq(valid), nl.eq(last), ns.eq(status)]
            m.d.sync += [t.eq(v) for t, v in zip(nt, m_terms)]
            valid, last, status, m_terms = nv, nl, ns, nt

        # ---------------- stage 2: accumulate ----------------
        # `open_seg` is high between a segment's first and last beat; a beat
        # arriving while it is low starts a segment (acc = m).
        acc_stage = stage["accumulate"]
        open_seg = Signal()
        first = ~open_seg
        accs = [Signal(32, name=f"acc{i}") for i in range(len(m_terms))]
        sums = []
        for i, (acc, term) in enumerate(zip(accs, m_terms)):
            acc_stage.submodules[f"acc{i}_add"] = add = Float32Adder()
            acc_stage.d.comb += [add.a.eq(acc), add.b.eq(term)]
            nxt = Signal(32, name=f"acc{i}_next")
            acc_stage.d.comb += nxt.eq(Mux(first, term, add.result))
            sums.append(nxt)
        seg_status = Signal(STATUS_WIDTH)
        seg_status_next = Signal(STATUS_WIDTH)
        m.d.comb += seg_status_next.eq(Mux(first, status, seg_status | status))
        with acc_stage.If(valid):
            acc_stage.d.sync += [acc.eq(s) for acc, s in zip(accs, sums)]
            acc_stage.d.sync += open_seg.eq(~last)
        with m.If(valid):
            m.d.sync += seg_status.eq(seg_status_next)

        # ---------------- stage 2: reduce ----------------
        level = sums
        depth = 0
        while len(level) > 1:
            nxt_level = []
            for j in range(0, len(level), 2):
                stage["reduce"].submodules[f"tree{depth}_{j // 2}"] = add = Float32Adder()
                stage["reduce"].d.comb += [add.a.eq(level[j]), add.b.eq(level[j + 1])]
                nxt_level.append(add.result)
            level, depth = nxt_level, depth + 1

        m.d.sync += self.result_valid.eq(valid & last)
        with m.If(valid & last):
            m.d.sync += [self.result.eq(level[0]), self.status.eq(seg_status_next)]
        return m


def used(component):
    """`component`, marked as used: a caller elaborates it by hand (to see
    its internal signals) or reads only its parameters, and Amaranth would
    warn that it was never added to a design."""
    component._MustUse__silence = True
    return component
