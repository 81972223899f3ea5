"""ifmac.formal: the fast subset of the proofs (`make formal` runs them all),
the mutants that must fail with a trace, and the `ifmac formal` command."""

import json
from pathlib import Path

import pytest
from amaranth.back import rtlil

from ifmac.cli import main
from ifmac.formal import equiv, harness, proofs
from ifmac.formal.proofs import MUTANTS, Kind, Mutant, Proof
from ifmac.formal.sby import run_dprove
from ifmac.golden.config import Config
from ifmac.hdl.fp import Float32Adder
from ifmac.hdl.mac import DEFAULT_CONFIGS, MAC
from ifmac.tech import find_liberty
from ifmac.tools import abc_executable

#: Counterexample traces of the mutants are kept here for a person to open.
OUT = Path("build") / "formal" / "test"


@pytest.mark.parametrize("proof", proofs.quick_proofs(), ids=lambda p: p.name)
def test_quick_proof(proof):
    """Each proof of the subset reaches its verdict: PASS, or FAIL with a
    counterexample trace (VCD) for a mutant."""
    lib = None
    if proof.kind == "netlist":
        lib, how = find_liberty()
        if lib is None:
            pytest.skip(how)
    record = proofs.run_proof(proof, OUT, OUT / "netlists", lib)
    assert record.status == proof.expect, record.detail
    if proof.kind == "netlist":
        # The one-cell mutant of the Liberty netlist: the links before it
        # still prove, the Liberty link fails, with a real counterexample
        # (the two sides, evaluated again, differ).
        checks = json.loads((Path(record.folder) / "checks.json").read_text())
        verdicts = {c["name"]: c["status"] for c in checks}
        assert verdicts.pop("total.generic -> total.liberty") == "FAIL", checks
        assert set(verdicts.values()) == {"PASS"} and len(verdicts) >= 7, checks
        assert record.detail.startswith("mutant: ") and "differ" in record.detail
    assert record.ok
    if proof.mutant:
        trace = Path(record.trace)
        assert trace.suffix == ".vcd" and trace.stat().st_size > 0
        assert str(OUT) in str(trace)


def test_mutants_cover_the_datapath_the_control_and_the_netlist():
    """The subset has a mutant for the decode table, the latency and one
    netlist cell."""
    quick = proofs.quick_proofs()
    assert set(MUTANTS) <= set(quick)
    assert {(m.kind, m.mutant) for m in MUTANTS} == {("datapath", "decode_entry"),
                                                         ("control", "latency"),
                                                         ("round", "round_sticky"),
                                                         ("netlist", "netlist_cell")}


def test_decode_mutant_changes_one_entry():
    """The decode mutant's table differs from the registry's in one entry."""
    proof = next(p for p in MUTANTS if p.mutant == Mutant.DECODE_ENTRY)
    good, bad = MAC(Config.make("if4", "fused", 8)), proofs._mac(proof)
    assert (good.decode_table != bad.decode_table).sum() == 1
    assert bad.latency == good.latency


def test_latency_mutant_states_one_cycle_more():
    proof = next(p for p in MUTANTS if p.mutant == Mutant.LATENCY)
    assert proofs._mac(proof).latency == MAC(Config.make("if4", "fused", 8)).latency + 1


def test_make_formal_set():
    """`make formal` covers every format at every block size (datapath), every
    default configuration and pipelined if4 (control), three FP32 units at
    two depths and the adder's commutativity, the netlists of every fused
    default configuration, and the mutants."""
    names = {p.name for p in proofs.all_proofs()}
    assert {f"datapath/ifmac_{f}_fused_b{b}" for f in ("if3", "if4", "if6_e2m3", "nvfp4")
            for b in (8, 16, 32)} <= names
    assert {"control/ifmac_if4_lane_b32", "control/ifmac_nvfp6_e3m2_fused_b16",
            f"control/{Config.make('if4', 'lane', 16, 2).name}", "fp_unit/adder_commutes",
            "fp_unit/multiplier_p2", "netlist/ifmac_if4_fused_b16",
            "netlist/ifmac_mxfp4_fused_b32", "netlist/ifmac_nvfp4_fused_b8",
            "netlist/ifmac_if4_lane_b16"} <= names
    assert "netlist/ifmac_if3_lane_b16" not in names
    # The exact arch: datapath of every E4M3 format and deferred IF format,
    # control unpipelined and pipelined, the rounding without a divider.
    assert {"datapath/ifmac_nvint6_exact_b16", "datapath/ifmac_if6_e2m3_exact_b16_deferred",
            "control/ifmac_if4_exact_b16_p_group_accumulate", "round/ifmac_nvfp4_exact_b16",
            "round/ifmac_if4_exact_b16_deferred", "netlist/ifmac_if4_exact_b16"} <= names
    assert "round/ifmac_if3_exact_b16" in names and "round/ifmac_if4_exact_b16" not in names
    every = {p.name for p in proofs.all_proofs(every_lane=True)}
    assert every - names == ({f"netlist/{c.name}" for c in DEFAULT_CONFIGS if c.arch == "lane"}
                             | {"round/ifmac_if6_e2m3_exact_b16", "round/ifmac_if4_exact_b16",
                                "round/ifmac_if6_e3m2_exact_b16"}) - names
    assert {p.name for p in MUTANTS} <= names
    assert len(names) == len(proofs.all_proofs())


def test_proof_names():
    """A proof is named by its kind and its configuration's one name."""
    c = Config.make("if4", "lane", 16, 1)
    assert Proof(Kind.CONTROL, c).name == "control/ifmac_if4_lane_b16_p_accumulate"
    assert Proof(Kind.FP_UNIT, unit="adder", pipeline=2).name == "fp_unit/adder_p2"
    assert (Proof(Kind.DATAPATH, Config.make("if4", "fused", 8),
                  mutant=Mutant.DECODE_ENTRY).name
            == "datapath/ifmac_if4_fused_b8_mutant_decode_entry")


def test_formal_command_writes_summary(tmp_path, capsys):
    """`ifmac formal` with filters: the proofs that match, a line each, and a
    summary a machine can read."""
    rc = main(["formal", "-k", "control", "-f", "if4", "-a", "fused", "-b", "8",
               "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "control/ifmac_if4_fused_b8: PASS" in out and "mutant_latency: FAIL" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    verdicts = {r["name"]: r["status"] for r in summary["proofs"]}
    assert verdicts == {"control/ifmac_if4_fused_b8": "PASS",
                        "control/ifmac_if4_fused_b8_mutant_latency": "FAIL"}
    assert {r["engine"] for r in summary["proofs"]} == {"abc pdr"}
    text = (tmp_path / "summary.md").read_text()
    assert "| control/ifmac_if4_fused_b8 | PASS | PASS |" in text and "- engine: abc pdr" in text


@pytest.mark.parametrize("argv,message", [
    (["formal", "--quick", "-f", "if4"], "--quick runs a fixed subset"),
    (["formal", "-k", "datapath", "-a", "lane", "-b", "8"],
     "no proof matches the selection"),
    (["formal", "-k", "netlist", "-f", "if4", "-a", "fused", "-b", "16",
      "--liberty", "/nonexistent/cells.lib", "-o", "build/formal/test/bad"],
     "Liberty file '/nonexistent/cells.lib' does not exist"),
])
def test_formal_bad_selection_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_formal_bad_kind_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["formal", "-k", "timing"])
    assert e.value.code == 2 and "invalid choice: 'timing'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt,twin", sorted(proofs.DATAPATH_TWINS.items()))
def test_datapath_twins_are_the_same_rtl(fmt, twin):
    """`make formal` proves an MX format's datapath through its NVFP twin:
    their decode, product and group modules are the same Verilog, but for
    the module names."""
    mine, theirs = _front_stages(Config.make(fmt, "fused", 8)), _front_stages(
        Config.make(twin, "fused", 8))
    assert set(mine) == {"decode", "product", "group"} and mine == theirs


def _front_stages(config: Config) -> dict:
    """The Verilog of a MAC's decode, product and group modules, its own name
    replaced by TOP."""
    import re
    from ifmac.hdl.verilog import convert
    dut = MAC(config)
    text = convert(dut, dut.name)
    mods = re.findall(r"^module (\S+)(.*?)^endmodule", text, re.M | re.S)
    # The backend numbers its own dummy registers per design: not RTL.
    return {m.split(".", 1)[1]: re.sub(r"dump_module\$\d+", "dump_module",
                                       body.replace(dut.name, "TOP"))
            for m, body in mods
            if m.split(".", 1)[-1].split(" ")[0] in ("decode", "product", "group")}


@pytest.mark.parametrize("fmt", ["if4", "nvint6", "if6_e2m3"])
def test_exact_front_is_the_fused_rtl(fmt):
    """The exact arch's datapath proof covers its scale part only: its
    decode, product and group modules are the fused MAC's Verilog, whose
    datapath proof covers them."""
    exact = _front_stages(Config.make(fmt, "exact", 16, expansion="deferred"
                                      if fmt == "if6_e2m3" else "scale"))
    assert set(exact) == {"decode", "product", "group"}
    assert exact == _front_stages(Config.make(fmt, "fused", 16))


def _sides(mutant: bool):
    """An RTL side with two registers that Yosys would merge (r, r2: same D)
    and an output that is 0 when they agree, and a netlist side with one
    flop for both (r2 an alias of r), a NAND and a NOT for the AND, and the
    output found constant; `mutant` drops the NOT."""
    inputs = {"a": [2], "b": [3], "clk": [4]}
    gold = equiv.Side(gates={5: ("$_AND_", (2, 3)), 8: ("$_XOR_", (6, 7))},
                      flops={6: 5, 7: 5}, inputs=inputs, outputs={"o": [8]},
                      names={"a": [2], "b": [3], "clk": [4], "r": [6], "r2": [7], "o": [8]})
    gate = equiv.Side(gates={5: ("$_NAND_", (2, 3)),
                             9: ("$_BUF_" if mutant else "$_NOT_", (5,))},
                      flops={6: 9}, inputs=inputs, outputs={"o": ["0"]},
                      names={"a": [2], "b": [3], "clk": [4], "r": [6], "r2": [6]})
    return gold, gate


@pytest.mark.parametrize("mutant", [False, True])
def test_netlist_check_with_merged_registers(mutant, tmp_path):
    """Registers matched by name, the merged one included; the mutant's
    counterexample is evaluated on both sides and written as a VCD."""
    gold, gate = _sides(mutant)
    miter = equiv.build_miter(gold, gate)
    assert (miter.matched, miter.constant, miter.unmatched) == (2, 0, [])
    result = equiv.check("toy", gold, gate, tmp_path, abc_executable(), 60)
    if not mutant:
        assert result.status == "PASS", result.detail
        return
    assert result.status == "FAIL" and "next r[0]" in result.detail, result.detail
    vcd = Path(result.trace).read_text()
    assert " rtl_next_r_0_ $end" in vcd and " netlist_next_r_0_ $end" in vcd


def test_netlist_side_rejects_unknown_cells(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {"top": {
        "ports": {}, "netnames": {},
        "cells": {"u": {"type": "$_DLATCH_P_", "connections": {"D": [2], "E": [3], "Q": [4]}}}}}}))
    with pytest.raises(ValueError, match=r"u of top is a \$_DLATCH_P_"):
        equiv.read_side(path, "top")


def test_dprove_fails_a_wrong_pipeline_depth(tmp_path):
    """dprove, the engine of the FP32 unit proofs, can fail a sequential
    harness: a unit with one register cut against a delay of two."""
    m, ports = harness.pipelined_unit(lambda p: Float32Adder(pipeline=min(p, 1)), 2)
    outcome = run_dprove(tmp_path, rtlil.convert(m, ports=ports, name="top", emit_src=False),
                         "top")
    assert outcome.status == "FAIL", outcome.detail
    assert outcome.trace is not None and outcome.trace.stat().st_size > 0


@pytest.mark.slow
def test_netlist_proof_and_its_mutant_in_ihp(tmp_path, capsys):
    """The netlist chain in IHP SG13G2 (flops with their reset tied
    inactive): nvfp3 fused b8 proves, its one-cell mutant fails."""
    rc = main(["formal", "-k", "netlist", "-f", "nvfp3", "-a", "fused", "-b", "8",
               "--tech", "ihp-sg13g2", "--netlists", str(tmp_path / "n"), "-o", str(tmp_path)])
    assert rc == 0
    verdicts = {r["name"]: r["status"] for r in
                json.loads((tmp_path / "summary.json").read_text())["proofs"]}
    assert verdicts == {"netlist/ifmac_nvfp3_fused_b8_mutant_netlist_cell": "FAIL"}
