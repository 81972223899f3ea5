"""ifmac.formal: the fast subset of the proofs (`make formal` runs them all),
the mutants that must fail with a trace, and the `ifmac formal` command."""

import json
from pathlib import Path

import pytest

from ifmac.cli import main
from ifmac.formal import proofs
from ifmac.formal.proofs import MUTANTS, Mutant, Proof
from ifmac.hdl.mac import MAC

#: Counterexample traces of the mutants are kept here for a person to open.
OUT = Path("build") / "formal" / "test"


@pytest.mark.parametrize("proof", proofs.quick_proofs(), ids=lambda p: p.name)
def test_quick_proof(proof):
    """Each proof of the subset reaches its verdict: PASS, or FAIL with a
    counterexample trace (VCD) for a mutant."""
    record = proofs.run_proof(proof, OUT)
    assert record.status == proof.expect, record.detail
    assert record.ok
    if proof.mutant:
        trace = Path(record.trace)
        assert trace.suffix == ".vcd" and trace.stat().st_size > 0
        assert str(OUT) in str(trace)


def test_mutants_cover_the_datapath_and_the_control():
    """The subset has a mutant for the decode table and one for the latency."""
    quick = proofs.quick_proofs()
    assert set(MUTANTS) <= set(quick)
    assert {(m.kind, m.mutant.what) for m in MUTANTS} == {("datapath", "decode_entry"),
                                                         ("control", "latency")}


def test_decode_mutant_changes_one_entry():
    """The decode mutant's table differs from the registry's in one entry."""
    proof = next(p for p in MUTANTS if p.mutant.what == "decode_entry")
    good, bad = MAC("if4", "fused", 8), proofs._mac(proof)
    assert (good.decode_table != bad.decode_table).sum() == 1
    assert bad.latency == good.latency


def test_latency_mutant_states_one_cycle_more():
    proof = next(p for p in MUTANTS if p.mutant.what == "latency")
    assert proofs._mac(proof).latency == MAC("if4", "fused", 8).latency + 1


def test_make_formal_set():
    """`make formal` covers every format at every block size (datapath), every
    default configuration and pipelined if4 (control), three FP32 units at
    two depths and the adder's commutativity, and both mutants."""
    names = {p.name for p in proofs.all_proofs()}
    assert {f"datapath/{f}_fused_b{b}" for f in ("if3", "if4", "if6_e2m3", "nvfp4")
            for b in (8, 16, 32)} <= names
    assert {"control/if4_lane_b32", "control/nvfp6_e3m2_fused_b16",
            "control/if4_lane_b16_p2", "fp_unit/adder_commutes",
            "fp_unit/multiplier_p2"} <= names
    assert {p.name for p in MUTANTS} <= names
    assert len(names) == len(proofs.all_proofs())


def test_proof_names():
    assert Proof("control", "if4", "lane", 16, 1).name == "control/if4_lane_b16_p1"
    assert Proof("fp_unit", unit="adder", pipeline=2).name == "fp_unit/adder_p2"
    assert (Proof("datapath", "if4", "fused", 8, mutant=Mutant("decode_entry")).name
            == "datapath/if4_fused_b8_mutant_decode_entry")


def test_formal_command_writes_summary(tmp_path, capsys):
    """`ifmac formal` with filters: the proofs that match, a line each, and a
    summary a machine can read."""
    rc = main(["formal", "-k", "control", "-f", "if4", "-a", "fused", "-b", "8",
               "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "control/if4_fused_b8: PASS" in out and "mutant_latency: FAIL" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    verdicts = {r["name"]: r["status"] for r in summary["proofs"]}
    assert verdicts == {"control/if4_fused_b8": "PASS",
                        "control/if4_fused_b8_mutant_latency": "FAIL"}
    assert "| control/if4_fused_b8 | PASS | PASS |" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("argv,message", [
    (["formal", "--quick", "-f", "if4"], "--quick runs a fixed subset"),
    (["formal", "-k", "datapath", "-a", "lane", "-b", "8"],
     "no proof matches the selection"),
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
    import re
    from ifmac.hdl.verilog import convert

    def stages(name):
        dut = MAC(name, "fused", 8)
        text = convert(dut, dut.name)
        mods = re.findall(r"^module (\S+)(.*?)^endmodule", text, re.M | re.S)
        out = {m.split(".", 1)[1]: body.replace(dut.name, "TOP") for m, body in mods
               if m.split(".", 1)[-1].split(" ")[0] in ("decode", "product", "group")}
        return out
    mine, theirs = stages(fmt), stages(twin)
    assert set(mine) == {"decode", "product", "group"} and mine == theirs
