"""The MAC RTL: parameters, Verilog, and the fast subset of `make sim` on the
native backend.

`make sim` runs the full default regression; here every format runs at least
once, if4 and nvfp4 in both architectures, each with directed corners, the
exhaustive element-code-pair sweep, quantized tensors (K = 4096 dot
products among them), random beats with valid gaps and a reset
mid-segment; if4 also gets the 65,536 scale pairs.
"""

import gc
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from ifmac.golden.vectors import random_beats
from ifmac.golden.config import Config
from ifmac.hdl.mac import DEFAULT_CONFIGS, MAC
from ifmac.hdl.verilog import convert
from ifmac.sim import suites
from ifmac.sim.mac_run import check, schedule
from ifmac.sim.regress import run_unit

# Lane designs at B=8 keep the Verilator builds of `make test` short; `make
# sim` covers every format x arch at B=16 and if4/nvfp4 at 8 and 32.
FAST_CONFIGS = [
    ("if4", "lane", 8), ("if4", "fused", 16), ("nvfp4", "lane", 8), ("nvfp4", "fused", 16),
    ("if3", "fused", 8), ("if6_e2m3", "lane", 8), ("if6_e3m2", "fused", 16),
    ("nvfp3", "lane", 8), ("nvfp6_e2m3", "fused", 8), ("nvfp6_e3m2", "lane", 8),
    ("nvint4", "lane", 8), ("nvint6", "fused", 16), ("mxfp4", "lane", 8),
    ("mxfp6_e3m2", "fused", 32), ("mxfp3", "fused", 8),
]

#: Pipelined and grouped MACs (named cuts, a count, max; interleave 2 and 4).
FAST_PIPELINED = [("if4", "g2", 8, "max", 2), ("nvfp4", "lane", 8, "max", 1),
                  ("if4", "g4", 16, "product,tree:1", 4), ("mxfp4", "fused", 8, 2, 2)]

#: The exact arch (its directed limits included: a 65,536-element segment,
#: cancellation to +0, the longest exact segment and an overflow): with a
#: divider (if4, if6_e2m3), without (nvfp4, deferred), pipelined.
FAST_EXACT = [("if4", "exact", 16), ("nvfp4", "exact", 8, "max"),
              ("if6_e2m3", "exact", 8, 1), ("if3", "exact", 8, 0, 1, "deferred")]


def _quiet(fn):
    """Build-and-drop components warn about never being elaborated when collected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
        gc.collect()
    return out


def test_parameters_and_names():
    """Module names carry the parameters; latency counts every register."""
    dut = MAC(Config.make("if4", "fused", 16))
    assert dut.name == "ifmac_if4_fused_b16" and dut.latency == 2
    c = Config.make("if6_e3m2", "lane", 32, 2)
    assert c.name == "ifmac_if6_e3m2_lane_b32_p_accumulate_tree3" and c.latency == 4
    c = Config.make("if4", "g4", 16, "max", 2)
    assert c.name == "ifmac_if4_g4_b16_pmax_i2" and c.pipeline == "max"
    # decode, product, scale, group, multiply, accumulate, tree:1, tree:2;
    # the result register; one register inside the interleaved adder.
    assert c.latency == 8 + 1 + 1
    assert Config.make("if4", "g1", 16) == Config.make("if4", "lane", 16)
    assert Config.make("if4", "fused", 16, "multiply").pipeline == "0"
    wide = MAC(Config.make("if6_e3m2", "fused", 32))
    wide.elaborate(None)
    assert len(wide.probes["dot"]) == 24     # 448*448*32 < 2^23
    _quiet(lambda: None)
    convert(dut, dut.name)


@pytest.mark.parametrize("kwargs,message", [
    (dict(fmt="if5"), "unknown format 'if5'"),
    (dict(fmt="if4", arch="tree"), "unknown arch 'tree'; expected lane, fused, g<G>"),
    (dict(fmt="if4", arch="g3"), "group size 3 must divide the block size 16"),
    (dict(fmt="if4", block_size=12), "block_size must be one of 8, 16, 32, not 12"),
    (dict(fmt="if4", pipeline=-1), "pipeline -1: if4 fused b16 i1 has 0 to 5 optional cuts"),
    (dict(fmt="if4", pipeline=1.5), "pipeline must be an integer, max or cut names, not 1.5"),
    (dict(fmt="if4", arch="lane", pipeline=8),
     "pipeline 8: if4 lane b16 i1 has 0 to 7 optional cuts"),
    (dict(fmt="if4", arch="lane", pipeline="product,tree:4"),
     "unknown cut 'tree:4' for if4 lane b16 i1; expected max, a number or some of decode, "
     "product, scale, multiply, accumulate, tree:1, tree:2, tree:3"),
    (dict(fmt="if4", arch="lane", pipeline="group"), "unknown cut 'group'"),
    (dict(fmt="if4", interleave=3), "interleave must be one of 1, 2, 4, not 3"),
])
def test_bad_parameters(kwargs, message):
    """Bad parameters are ValueErrors naming the value, before elaboration."""
    with pytest.raises(ValueError, match=message):
        _quiet(lambda: MAC(Config.make(**kwargs)))


@pytest.mark.parametrize("fmt,arch,B", FAST_CONFIGS + [("if4", "fused", 32), ("if4", "lane", 16)])
def test_verilog_header(fmt, arch, B):
    """The header states the latency, and that the `always @*` blocks run
    only when an input changes (lint: test_shipped_verilog_is_lint_clean)."""
    dut = MAC(Config.make(fmt, arch, B))
    text = convert(dut, dut.name, dut.header())
    assert f"LATENCY = {dut.latency} cycles" in text and f"module {dut.name}(" in text
    assert "always @*" in text and "`always @*` blocks" in text and ".vlt" in text


#: Every `make verilog` configuration: in `make test` the fused MACs and the
#: if4 lane at B = 16, the other lane MACs (7 to 12 s each to convert and
#: lint) under `make regress`, which keeps `make test` within its limit.
LINT_CONFIGS = [pytest.param(c, marks=pytest.mark.slow)
                if c.group == 1 and (c.format.name, c.block_size) != ("if4", 16) else c
                for c in DEFAULT_CONFIGS] + [
    Config.make("if4", "fused", 16, expansion="deferred"),
    pytest.param(Config.make("if4", "lane", 16, expansion="deferred"), marks=pytest.mark.slow),
    Config.make("if4", "exact", 16), Config.make("nvfp4", "exact", 16),
    Config.make("if6_e2m3", "exact", 16, expansion="deferred")]


@pytest.mark.parametrize("config", LINT_CONFIGS, ids=str)
def test_shipped_verilog_is_lint_clean(tmp_path, config):
    """Every `make verilog` configuration as a user gets it: `verilator
    --lint-only -Wall X.vlt X.v` exits 0 with no warning (and without the
    shipped waivers it would not)."""
    from ifmac.hdl.verilog import write
    from ifmac.tools import verilator_env, verilator_executable
    dut = MAC(config)
    v, vlt = write(dut, tmp_path / f"{dut.name}.v")
    cmd = [verilator_executable(), "--lint-only", "-Wall"]
    p = subprocess.run(cmd + [vlt, v], capture_output=True, text=True, env=verilator_env(),
                       cwd=tmp_path)
    assert p.returncode == 0 and "%Warning" not in p.stdout + p.stderr, p.stderr[-3000:]
    if config.group > 1:                    # (a lane MAC's second lint takes seconds)
        bare = subprocess.run(cmd + [f"{dut.name}.v"], capture_output=True, text=True,
                              env=verilator_env(), cwd=tmp_path)
        assert bare.returncode != 0 and "%Warning-UNUSEDSIGNAL" in bare.stderr


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_iverilog_compiles(tmp_path):
    dut = MAC(Config.make("if4", "lane", 8))
    (tmp_path / "m.v").write_text(convert(dut, dut.name))
    p = subprocess.run(["iverilog", "-o", str(tmp_path / "m.vvp"), str(tmp_path / "m.v")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("spec", FAST_CONFIGS + FAST_PIPELINED + FAST_EXACT, ids=str)
def test_regression_subset(spec):
    """Corners, code-pair sweep, quantized tensors, random beats with gaps and a
    reset: zero mismatches in value, status and cycle."""
    c = Config.make(*spec)
    r = run_unit(c, beats=120_000, seed=2, sweeps=False)
    beats_sweep = suites.code_pairs(c)
    r2 = check(MAC(c), beats_sweep, name="code-pairs")
    print(f"{r.config}: {r.beats + r2.beats} beats, {r.segments + r2.segments} segments, "
          f"{r.mismatches + r2.mismatches} mismatches, {r.beats_per_second:.0f} beats/s")
    assert r.mismatches == 0, f"{r.first_error}; waveform {r.waveform}"
    assert r2.mismatches == 0, f"{r2.first_error}; waveform {r2.waveform}"


@pytest.mark.parametrize("arch,B", [("fused", 16), ("lane", 8)])
def test_scale_pairs_if4(arch, B):
    """All 65,536 scale-byte pairs through the scale path, bit-exact."""
    c = Config.make("if4", arch, B)
    r = check(MAC(c), suites.scale_pairs(c), name="scale-pairs")
    assert r.segments == 65536 and r.mismatches == 0, r.first_error


@pytest.mark.parametrize("arch", ["lane", "fused"])
def test_e8m0_extremes(arch):
    """E8M0 scale pairs beyond binary32's range: subnormal products rounded
    once, underflow to zero, overflow to +-inf, inf - inf = NaN and a NaN
    scale byte, bit-exact with the golden model (values and status)."""
    from ifmac.golden.vectors import Beats
    B = 8
    rng = np.random.default_rng(8)
    pairs = [(0, 0), (0, 127 - 23), (0, 127 - 25), (0xFE, 0x7F), (0xFE, 0xFE), (1, 1),
             (0x7F, 0xFF), (0xFF, 0xFF), (60, 70), (104, 24)]
    n = 40 * len(pairs)
    sa = np.array([p[0] for p in pairs] * 40, np.uint8)
    sw = np.array([p[1] for p in pairs] * 40, np.uint8)
    a = rng.integers(0, 16, (n, B)).astype(np.uint8)
    w = rng.integers(0, 16, (n, B)).astype(np.uint8)
    last = rng.random(n) < 0.5
    last[-1] = True
    c = Config.make("mxfp4", arch, B)
    r = check(MAC(c), Beats(c, a, sa, w, sw, last), name="e8m0-extremes")
    assert r.mismatches == 0, r.first_error
    bits = r.result.astype(np.uint32)
    assert (bits == 0x7FC00000).any() and ((bits & 0x7FFFFFFF) == 0x7F800000).any()
    assert ((bits & 0x7F800000) == 0).any() and ((r.status & 2) != 0).any()


@pytest.mark.parametrize("arch,pipeline,interleave,latency", [
    ("fused", 1, 1, 3), ("lane", "max", 4, 13), ("g2", "accumulate", 2, 4)])
def test_pipelined_latency_and_gaps(arch, pipeline, interleave, latency):
    """Cuts and interleave: the stated latency, results at the cycles the
    cycle model predicts through gaps and resets, short segments included."""
    dut = MAC(Config.make("if4", arch, 8, pipeline, interleave))
    b = random_beats(dut.config, 3000, seed=4)
    b.last[:300] = np.random.default_rng(4).random(300) < 0.5     # 1-3 beat segments
    r = check(dut, b, schedule(len(b), dut.latency, gap=0.3, resets=[700, 1500], seed=4),
              name="pipelined")
    assert dut.latency == latency and r.mismatches == 0, r.first_error


def test_fp_only_flag_sets_status_and_completes():
    """An INT flag on an FP-only format sets status bit 0; the segment completes."""
    z = np.full((3, 8), 0x2, np.uint8)
    from ifmac.golden.vectors import Beats
    c = Config.make("nvfp4", "lane", 8)
    b = Beats(c, z, np.array([0x38, 0xB8, 0x38], np.uint8), z, np.array([0x38] * 3, np.uint8),
              np.array([True, True, True]))
    r = check(MAC(c), b, name="flag")
    assert r.mismatches == 0 and r.status.tolist() == [0, 1, 0]


@pytest.mark.parametrize("backend", ["verilator", "cocotb"])
def test_mismatch_is_reported_with_waveform(monkeypatch, backend):
    """A wrong expectation is caught: the first mismatching segment is named
    and a waveform ending just past it is written under build/."""
    import ifmac.sim.stimulus as st
    real = st.mac

    def wrong(*args, **kwargs):
        res, status = real(*args, **kwargs)
        res = res.copy()
        res[3] ^= 1
        return res, status
    monkeypatch.setattr(st, "mac", wrong)
    c = Config.make("if4", "fused", 16)
    b = random_beats(c, 200, seed=5)
    r = check(MAC(c), b, name=f"inject-{backend}", backend=backend)
    assert r.mismatches == 1 and "segment #3" in (r.first_error or "")
    assert r.waveform is not None and r.waveform.exists() and r.waveform.stat().st_size > 1000


def test_native_chunks_and_long_segments():
    """Several chunks through one harness process; each chunk's results are
    compared with its own golden results (K = 4096 dot products included)."""
    from ifmac.sim.mac_run import check_stream
    from ifmac.sim.stimulus import Stimulus
    dut = MAC(Config.make("nvfp4", "fused", 16))
    chunks = [suites.quantized(dut.config, rows=4, k_blocks=256, seed=s) for s in range(3)]
    stims = [Stimulus(c, schedule(len(c), dut.latency, gap=0.2, seed=s, resets=[100 + s]))
             for s, c in enumerate(chunks)]
    r = check_stream(dut, stims, name="chunks")
    assert r.chunks == 3 and r.beats == sum(len(c) for c in chunks)
    # A reset inside the first segment of each chunk drops the beats before
    # it; the rest of that segment completes as a segment of its own.
    assert r.segments == 3 * 16 and r.mismatches == 0, r.first_error
