"""Signoff: the power model against a hand computation, and on a real
netlist: static timing, gate-level simulation that passes on the synthesized
netlist and fails on a broken copy, power that follows activity."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ifmac.cli import main
from ifmac.formal.equiv import cell_before_result_bit, swap_cell
from ifmac.golden.vectors import Beats, random_beats
from ifmac.hdl.mac import MAC, used
from ifmac.golden.config import Config
from ifmac.synth import power, signoff
from ifmac.tech import find_cell_models, find_liberty, technology_of
from ifmac.tools import find_sta

# ---------------------------------------------------------------------------
# The power model, by hand on three cells
# ---------------------------------------------------------------------------

# Tables over (output load pF, input slew ns) on the corners 0 and 1, so the
# bilinear look-ups can be done by hand.
HAND_LIB = """
library (hand) {
  delay_model : table_lookup;
  time_unit : "1ns";
  voltage_unit : "1V";
  current_unit : "1uA";
  leakage_power_unit : "1nW";
  capacitive_load_unit (1,pf);
  nom_voltage : 2.0;
  power_lut_template (e2) {
    variable_1 : total_output_net_capacitance;
    variable_2 : input_transition_time;
    index_1 ("0.0, 1.0");
    index_2 ("0.0, 1.0");
  }
  power_lut_template (p1) {
    variable_1 : input_transition_time;
    index_1 ("0.0, 1.0");
  }
  cell (INVX1) {
    area : 1;
    cell_leakage_power : 10;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (Y) {
      direction : output;
      function : "(!A)";
      internal_power () {
        related_pin : "A";
        rise_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("1.0, 2.0", "3.0, 4.0"); }
        fall_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("0.0, 0.0", "1.0, 1.0"); }
      }
    }
  }
  cell (NAND2X1) {
    area : 2;
    cell_leakage_power : 20;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (B) { direction : input; capacitance : 0.012; }
    pin (Y) {
      direction : output;
      function : "(!(A B))";
      internal_power () {
        related_pin : "A";
        rise_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("2.0, 2.0", "2.0, 2.0"); }
        fall_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("0.0, 0.0", "0.0, 0.0"); }
      }
      internal_power () {
        related_pin : "B";
        rise_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("4.0, 4.0", "4.0, 4.0"); }
        fall_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("2.0, 2.0", "2.0, 2.0"); }
      }
    }
  }
  cell (DFFPOSX1) {
    area : 4;
    cell_leakage_power : 50;
    ff (IQ, IQN) { next_state : "D"; clocked_on : "CLK"; }
    pin (CLK) {
      direction : input;
      capacitance : 0.02;
      internal_power () {
        rise_power (p1) { index_1 ("0.0, 1.0"); values ("0.5, 1.5"); }
        fall_power (p1) { index_1 ("0.0, 1.0"); values ("0.5, 0.5"); }
      }
    }
    pin (D) { direction : input; capacitance : 0.005; }
    pin (Q) {
      direction : output;
      function : "IQ";
      internal_power () {
        related_pin : "CLK";
        rise_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("1.0, 1.0", "1.0, 1.0"); }
        fall_power (e2) { index_1 ("0.0, 1.0"); index_2 ("0.0, 1.0");
                          values ("1.0, 1.0", "1.0, 1.0"); }
      }
    }
  }
}
"""

# q = DFF(!(!a & b)): bits 2..7 are a, b, clk, n1 = !a, n2 = nand, q.
HAND_NETLIST = {"modules": {"hand": {
    "ports": {"a": {"direction": "input", "bits": [2]},
              "b": {"direction": "input", "bits": [3]},
              "clk": {"direction": "input", "bits": [4]},
              "q": {"direction": "output", "bits": [7]}},
    "cells": {"u1": {"type": "INVX1", "connections": {"A": [2], "Y": [5]}},
              "u2": {"type": "NAND2X1", "connections": {"A": [5], "B": [3], "Y": [6]}},
              "u3": {"type": "DFFPOSX1", "connections": {"CLK": [4], "D": [6], "Q": [7]}}},
    "netnames": {name: {"hide_name": 0, "bits": [bit]}
                 for name, bit in (("a", 2), ("b", 3), ("clk", 4), ("n1", 5), ("n2", 6),
                                   ("q", 7))}}}}

# 10 cycles (DURATION 100 at 10 time units per cycle).
HAND_SAIF = """(SAIFILE
(SAIFVERSION "2.0")
(DURATION 100)
 (INSTANCE TOP
  (INSTANCE hand
   (NET
""" + "".join(f"    ({n} (T0 50) (T1 50) (TZ 0) (TX 0) (TB 0) (TC {tc}))\n"
              for n, tc in (("a", 10), ("b", 4), ("clk", 20), ("n1", 10), ("n2", 6),
                            ("q", 3))) + "   )\n  )\n )\n)\n"


def test_power_model_matches_a_hand_computation(tmp_path):
    (tmp_path / "hand.lib").write_text(HAND_LIB)
    (tmp_path / "hand.json").write_text(json.dumps(HAND_NETLIST))
    (tmp_path / "hand.saif").write_text(HAND_SAIF)
    lib = power.load_library(str(tmp_path / "hand.lib"))
    act = power.read_saif(tmp_path / "hand.saif", "hand")
    assert act.cycles == 10 and act.toggles["clk"] == 20
    p = power.power(lib, tmp_path / "hand.json", "hand", act, clock_ns=5.0, slew_ns=0.1)

    # Loads (pF): a 0.01 (INV.A), b 0.012 (NAND.B), clk 0.02, n1 0.01 (NAND.A),
    # n2 0.005 (DFF.D), q 4 x 0.01 (the output load: four INVX1 inputs).
    # Switching: 1/2 V^2 sum(C x toggles) = 0.5 * 4 * (0.1 + 0.048 + 0.4 + 0.1
    # + 0.03 + 0.12) = 1.596 pJ.
    switching_pj = 1.596
    # Internal, slew 0.1 ns:
    #   INV, load 0.01: rise 1 + 0.1 * 1 + 0.01 * 2 = 1.12, fall 0.01,
    #     mean 0.565 x 10 toggles = 5.65
    #   NAND: arcs A (2 + 0) / 2 = 1 and B (4 + 2) / 2 = 3, mean 2 x 6 = 12
    #   DFF Q: 1 x 3 = 3; its CLK pin: rise 0.6, fall 0.5, mean 0.55 x 20 = 11
    internal_pj = 5.65 + 12 + 3 + 11
    window_ns = 10 * 5.0
    assert p.switching_mw == pytest.approx(switching_pj / window_ns, rel=1e-12)
    assert p.internal_mw == pytest.approx(internal_pj / window_ns, rel=1e-12)
    assert p.leakage_mw == pytest.approx((10 + 20 + 50) * 1e-6, rel=1e-12)
    assert p.energy_pj() == pytest.approx(internal_pj + switching_pj + 80e-6 * window_ns)


# The same circuit with the NAND inside an instance g of a submodule.
HIER_NETLIST = {"modules": {
    "hand": {**HAND_NETLIST["modules"]["hand"],
             "cells": {"u1": HAND_NETLIST["modules"]["hand"]["cells"]["u1"],
                       "g": {"type": "hand.g", "connections": {"x": [5], "y": [3], "z": [6]}},
                       "u3": HAND_NETLIST["modules"]["hand"]["cells"]["u3"]}},
    "hand.g": {"ports": {"x": {"direction": "input", "bits": [2]},
                         "y": {"direction": "input", "bits": [3]},
                         "z": {"direction": "output", "bits": [4]}},
               "cells": {"u2": {"type": "NAND2X1",
                                "connections": {"A": [2], "B": [3], "Y": [4]}}},
               "netnames": {n: {"hide_name": 0, "bits": [b]}
                            for n, b in (("x", 2), ("y", 3), ("z", 4))}}}}


def test_power_model_splits_a_hierarchy_by_part(tmp_path):
    """Per part: the NAND's internal energy and the switching of the net it
    drives (n2, loaded by the flop's D) belong to g; the rest to the top.
    The parts add up to the flat netlist's power."""
    (tmp_path / "hand.lib").write_text(HAND_LIB)
    (tmp_path / "flat.json").write_text(json.dumps(HAND_NETLIST))
    (tmp_path / "hier.json").write_text(json.dumps(HIER_NETLIST))
    inner = "".join(f"    ({n} (T0 50) (T1 50) (TZ 0) (TX 0) (TB 0) (TC {tc}))\n"
                    for n, tc in (("x", 10), ("y", 4), ("z", 6)))
    saif = HAND_SAIF.replace("   )\n  )\n )\n)\n",
                             "   )\n   (INSTANCE g\n    (NET\n" + inner
                             + "    )\n   )\n  )\n )\n)\n")
    (tmp_path / "hier.saif").write_text(saif)
    lib = power.load_library(str(tmp_path / "hand.lib"))
    act = power.read_saif(tmp_path / "hier.saif", "hand")
    assert act.toggles["g.z"] == 6 and act.toggles["n2"] == 6
    hier = power.power(lib, tmp_path / "hier.json", "hand", act, clock_ns=5.0, slew_ns=0.1)
    flat = power.power(lib, tmp_path / "flat.json", "hand", act, clock_ns=5.0, slew_ns=0.1)
    window_ns = 10 * 5.0
    g_internal, g_switching = 12 / window_ns, 0.5 * 4 * 0.005 * 6 / window_ns
    assert hier.parts["g"] == pytest.approx((g_internal, g_switching, 20e-6), rel=1e-12)
    assert hier.parts[""] == pytest.approx((19.65 / window_ns, 1.536 / window_ns, 60e-6),
                                           rel=1e-12)
    assert (hier.internal_mw, hier.switching_mw, hier.leakage_mw) == pytest.approx(
        (flat.internal_mw, flat.switching_mw, flat.leakage_mw), rel=1e-12)


def test_power_model_refuses_a_foreign_saif(tmp_path):
    (tmp_path / "hand.lib").write_text(HAND_LIB)
    (tmp_path / "hand.json").write_text(json.dumps(HAND_NETLIST))
    (tmp_path / "other.saif").write_text(HAND_SAIF.replace("(n2 ", "(m2 "))
    lib = power.load_library(str(tmp_path / "hand.lib"))
    act = power.read_saif(tmp_path / "other.saif", "hand")
    with pytest.raises(ValueError, match="no toggle count for 1 nets.*n2"):
        power.power(lib, tmp_path / "hand.json", "hand", act, clock_ns=5.0)


# ---------------------------------------------------------------------------
# On a synthesized MAC (the default technology's library, OpenSTA)
# ---------------------------------------------------------------------------

SMALL = ("nvfp3", "fused", 8)


@pytest.fixture(scope="module")
def signed_off(tmp_path_factory):
    lib, how = find_liberty()
    cells, how_cells = find_cell_models(lib) if lib else (None, how)
    sta, how_sta = find_sta()
    if lib is None or cells is None or sta is None:
        pytest.skip(f"{how}; {how_cells}; {how_sta}")
    out = tmp_path_factory.mktemp("signoff")
    rc = main(["synth", "-f", SMALL[0], "-a", SMALL[1], "-b", str(SMALL[2]),
               "--no-baseline", "-o", str(out)])
    assert rc == 0
    doc = json.loads((out / "area.json").read_text())
    return out, doc["configurations"][0], lib, cells


def test_signoff_report(signed_off):
    out, rec, _, _ = signed_off
    t = rec["timing"]
    assert t["clock_ns"] == 10.0 and t["fmax_mhz"] > 1
    # fmax comes from the path delay OpenSTA reports.
    assert t["fmax_mhz"] == pytest.approx(1000 / t["critical_path"]["delay_ns"], rel=1e-3)
    assert t["wns_ns"] == min(0.0, round(10.0 - t["critical_path"]["delay_ns"], 3))
    assert t["critical_path"]["stages"][0] in ("registers", "accumulate")   # a flop
    assert rec["gls"]["beats"] >= signoff.GLS_BEATS and rec["gls"]["mismatches"] == 0
    assert [p["data"] for p in rec["power"]] == ["realistic", "random"]
    # Per stage, from the hierarchy-preserving netlist: every stage that has
    # cells, the parts adding up.
    stages = rec["power"][0]["stages"]
    assert set(stages) >= {"decode", "product", "scale", "multiply", "accumulate",
                           "registers"}
    for x in stages.values():
        assert x["total_mw"] == pytest.approx(x["internal_mw"] + x["switching_mw"]
                                              + x["leakage_mw"], abs=2e-4)
    for p in rec["power"]:
        assert p["total_mw"] == pytest.approx(p["internal_mw"] + p["switching_mw"]
                                              + p["leakage_mw"], abs=2e-4)
        assert p["energy_pj_per_mac"] > 0
    md = (out / "area.md").read_text()
    assert "## Signoff" in md and f"| {rec['top']} |" in md
    assert "### Energy per MAC by stage" in md
    assert (out / "energy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_power_model_against_opensta(signed_off):
    """OpenSTA 2.0.17's arithmetic replayed on ifmac's reading of the
    library and netlist gives OpenSTA's report_power (what ifmac reads is
    what OpenSTA reads); ifmac's switching, the same physics, matches
    OpenSTA's; ifmac's internal power weighs rise and fall as their mean,
    where 2.0.17 adds them, so it is well below."""
    out, rec, _, _ = signed_off
    check = rec["power"][0]["opensta_check"]
    o, replay, own = check["opensta"], check["replay"], check["ifmac"]
    assert 0 < check["activity"] < 1
    assert replay["total_mw"] == pytest.approx(o["total_mw"], rel=0.01)
    assert replay["internal_mw"] == pytest.approx(o["internal_mw"], rel=0.01)
    assert replay["switching_mw"] == pytest.approx(o["switching_mw"], rel=0.02)
    assert replay["leakage_mw"] == pytest.approx(o["leakage_mw"], rel=0.001)
    assert own["switching_mw"] == pytest.approx(o["switching_mw"], rel=0.02)
    assert own["leakage_mw"] == pytest.approx(o["leakage_mw"], rel=0.001)
    assert 0.15 < own["internal_mw"] / o["internal_mw"] < 0.6
    assert "### Power model against OpenSTA 2.0.17" in (out / "area.md").read_text()


def _zero_beats(config: Config, n: int) -> Beats:
    b = random_beats(config, n, seed=3, corner_fraction=0.0)
    return Beats(config, np.zeros_like(b.a), b.a_scale, np.zeros_like(b.w), b.w_scale, b.last)


def test_power_follows_activity(signed_off):
    out, rec, lib, cells = signed_off
    dut = used(MAC(Config.make(*SMALL)))
    n = 2000
    runs = signoff.power_runs(dut, out / rec["top"], cells, lib, 10.0, {
        "zero": _zero_beats(dut.config, n),
        "random": random_beats(dut.config, n, seed=3, corner_fraction=0.0)},
        stages=False)
    zero, rand = runs
    dynamic = [r["internal_mw"] + r["switching_mw"] for r in runs]
    assert dynamic[0] < 0.5 * dynamic[1], runs
    assert zero["leakage_mw"] == rand["leakage_mw"]


def test_gls_fails_on_a_broken_netlist(signed_off, tmp_path):
    out, rec, _, cells = signed_off
    work = tmp_path / rec["top"]
    shutil.copytree(out / rec["top"], work)
    # One cell swapped for one with the same pins and another function: the
    # cell in front of the flop of result bit 23 (the exponent's LSB).
    tech = technology_of(rec_lib := signed_off[2])
    assert rec_lib.name == tech.liberty
    name, kind = cell_before_result_bit(work, rec["top"], 23, tech)
    swap_cell(work / "total.liberty.v", name, kind, tech)
    r = signoff.gls(used(MAC(Config.make(*SMALL))), work, cells, beats=2000)
    assert r["mismatches"] > 0 and r["first_error"]
    assert r["waveform"] and Path(r["waveform"]).stat().st_size > 0


def test_cell_models_flop_rewritten_for_verilator():
    from ifmac.sim.backends import verilator_cell_models
    models = ("module DFFPOSX1 (CLK, D, Q);\n"
              "   udp_dff (DS0000, D, CLK, 1'B0, 1'B0, NOTIFIER);\n"
              "endmodule\n"
              "primitive udp_dff (out, in, clk, clr, set, NOTIFIER);\nendprimitive\n")
    out = verilator_cell_models(models)
    assert "ifmac_udp_dff u_udp_dff (DS0000, D, CLK, 1'B0, 1'B0, NOTIFIER);" in out
    assert "primitive udp_dff (out" in out and "module ifmac_udp_dff(" in out
    assert "out <= in;" in out
    # Models without that UDP are left as they are.
    assert verilator_cell_models("module INVX1 (A, Y);\nendmodule\n") == \
        "module INVX1 (A, Y);\nendmodule\n"


def test_synth_rejects_a_bad_clock(capsys):
    rc = main(["synth", "-f", "if4", "--clock-ns", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "--clock-ns 0" in err and "Traceback" not in err


def test_a_missing_user_tool_is_an_input_error(tmp_path, monkeypatch, capsys):
    if find_liberty()[0] is None:
        pytest.skip("no Liberty library")
    monkeypatch.setenv("STA", str(tmp_path / "no-sta"))
    rc = main(["synth", "-f", "if4", "-a", "fused", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "no-sta" in err and "STA=path" in err and "Traceback" not in err
