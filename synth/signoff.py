"""The signoff view of one synthesized configuration (docs/signoff.md):

* timing: OpenSTA on the flat Liberty-mapped netlist at a clock, with an
  SDC written here; the stages the critical path crosses from the
  hierarchy-preserving netlist;
* gls: the flat netlist with the library's cell models on the native
  backend, checked against the golden model in values and cycles;
* power: the same gate-level build traced (SAIF), per data set, through
  ifmac.synth.power.

Each part reads the netlists that ifmac.synth.flow leaves in the
configuration's folder.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ifmac.golden.config import Config
from ifmac.hdl.mac import MAC, STAGES
from .flow import OTHER_STAGE

from . import power as pw

__all__ = ["Timing", "timing", "sdc", "gls", "power_runs", "power_check", "data_sets",
           "GLS_BEATS", "POWER_K", "DEFAULT_CLOCK_NS"]

DEFAULT_CLOCK_NS = 10.0

#: Gate-level beats checked per configuration.
GLS_BEATS = 100_000

#: Dot-product length of the realistic power data (segments of K/B beats).
POWER_K = 4096


# --------------------------------------------------------------------------
# Static timing
# --------------------------------------------------------------------------

@dataclass
class Timing:
    clock_ns: float
    wns_ns: float
    fmax_mhz: float
    critical_path: dict


def sdc(clock_ns: float, library: pw.Library) -> str:
    """The constraints, in the library's units: clock on clk, inputs
    launched and outputs captured by it with no external delay, inputs
    driven by the technology's driver cell, outputs loaded as its `load`
    says."""
    cell, pin, n = library.tech.load
    driver, driver_pin = library.tech.driver
    period = clock_ns / library.time_unit_ns
    return (f"create_clock -name clk -period {period:g} [get_ports clk]\n"
            "set data_inputs [delete_from_list [all_inputs] [get_ports clk]]\n"
            "set_input_delay 0 -clock clk $data_inputs\n"
            "set_output_delay 0 -clock clk [all_outputs]\n"
            f"set_driving_cell -lib_cell {driver} -pin {driver_pin} $data_inputs\n"
            f"# {n} x {cell}/{pin}\n"
            f"set_load {library.output_load() / library.cap_unit_pf:.6g} [all_outputs]\n")


_POINT = re.compile(r"^\s*-?[0-9.]+\s+-?[0-9.]+\s+[v^]\s+(\S+)\s+\((\S+)\)", re.M)
_SLACK = re.compile(r"^\s*(-?[0-9.]+)\s+slack", re.M)
_END = re.compile(r"^(Startpoint|Endpoint): (\S+)", re.M)


def _sta(sta: Path, liberty: Path, netlist: Path, top: str, sdc_path: Path,
         work: Path, tag: str, report: str = "report_checks -path_delay max -digits 3",
         expect: re.Pattern = _SLACK) -> str:
    tcl = work / f"{tag}.sta.tcl"
    tcl.write_text(f"read_liberty {liberty}\nread_verilog {netlist}\nlink_design {top}\n"
                   f"read_sdc {sdc_path}\n{report}\n")
    p = subprocess.run([str(sta), "-no_splash", "-exit", str(tcl)], capture_output=True,
                       text=True, cwd=work)
    (work / f"{tag}.sta.log").write_text(p.stdout + p.stderr)
    if p.returncode != 0 or not expect.search(p.stdout):
        raise RuntimeError(f"OpenSTA failed on {netlist} (log {work / f'{tag}.sta.log'})")
    return p.stdout


def timing(sta: Path, liberty: Path, work: Path, top: str, clock_ns: float) -> Timing:
    """OpenSTA's worst setup path of the flat netlist at `clock_ns`, and the
    stages that the hierarchy-preserving netlist's worst path crosses."""
    lib = pw.load_library(str(liberty))
    work = Path(work).resolve()          # OpenSTA runs inside it
    sdc_path = work / "mac.sdc"
    sdc_path.write_text(sdc(clock_ns, lib))
    flat = _sta(sta, liberty, work / "total.liberty.v", top, sdc_path, work, "total")
    slack = float(_SLACK.search(flat).group(1)) * lib.time_unit_ns
    ends = dict(_END.findall(flat))
    points = _POINT.findall(flat)
    hier = _sta(sta, liberty, work / "stages.liberty.v", top, sdc_path, work, "stages")
    crossed = []
    for pin, _ in _POINT.findall(hier):
        head = pin.split("/")[0]
        stage = head if head in STAGES and pin.count("/") >= 2 else OTHER_STAGE
        if not crossed or crossed[-1] != stage:
            crossed.append(stage)
    return Timing(clock_ns, round(min(slack, 0.0), 3),
                  round(1000.0 / (clock_ns - slack), 2),
                  {"startpoint": ends.get("Startpoint"), "endpoint": ends.get("Endpoint"),
                   "delay_ns": round(clock_ns - slack, 3), "cells": len(points),
                   "stages": crossed})


# --------------------------------------------------------------------------
# Gate-level simulation and power
# --------------------------------------------------------------------------

def _backend(dut: MAC, work: Path, cell_models: Path):
    from ifmac.sim.backends import GateLevelBackend
    return GateLevelBackend(dut, work / "total.liberty.v", cell_models)


def gls(dut: MAC, work: Path, cell_models: Path, beats: int = GLS_BEATS, seed: int = 1) -> dict:
    """The regression's stimulus (directed corners and sweeps, quantized
    tensors, random beats, gaps and resets) on the flat netlist."""
    from ifmac.sim.mac_run import check_stream
    from ifmac.sim.regress import stimuli
    be = _backend(dut, work, cell_models)
    r = check_stream(dut, stimuli(dut.config, beats, seed),
                     name="gls", backend=be)
    return {"beats": r.beats, "segments": r.segments, "mismatches": r.mismatches,
            "first_error": r.first_error,
            "waveform": str(r.waveform) if r.waveform else None}


def data_sets(config: Config, seed: int = 7) -> dict:
    """The power data, realistic first: activations x weights quantized by
    the codec from normal, Laplace, Student-t(3) and outlier-heavy tensors,
    dot products of length POWER_K; then uniformly random codes and scales."""
    from ifmac.golden.vectors import random_beats
    from ifmac.sim import suites
    k_blocks = POWER_K // config.block_size
    real = suites.quantized(config, rows=2, k_blocks=k_blocks, seed=seed)
    return {"realistic": real,
            "random": random_beats(config, len(real), seed, corner_fraction=0.0)}


def _activity(build, dut: MAC, beats, saif: Path) -> "pw.Activity":
    """Toggle counts of a gate-level run of `beats` (back to back), whose
    results are checked against the golden model: a power figure of a
    netlist that computes something else would mean nothing."""
    from ifmac.sim import native
    from ifmac.sim.mac_run import compare
    from ifmac.sim.stimulus import Results, Stimulus, expected, schedule
    stim = Stimulus(beats, schedule(len(beats), dut.latency))
    with native.Session(build, vcd=saif, dump_from=0) as s:
        s.submit(stim)
        r = s.result()
    cmp = compare(expected(dut.config, stim),
                  Results.from_arrays(r["cycle"], r["result"], r["status"]))
    if cmp.mismatches:
        raise RuntimeError(f"{build.executable}: the power run computes wrong results "
                           f"({cmp.first_error})")
    act = pw.read_saif(saif, "mac")
    saif.unlink()                        # large, and the record holds what it says
    return act


_TOTAL = re.compile(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)


#: OpenSTA's slews at every input pin, for the replay of its arithmetic.
_SLEWS_TCL = """set f [open power.slews w]
foreach pin [get_pins *] {
  if {[get_property $pin direction] == "input"} {
    puts $f "[get_full_name $pin] [get_property $pin actual_rise_transition_max] \\
[get_property $pin actual_fall_transition_max]"
  }
}
close $f"""


def power_check(sta: Path, liberty: Path, work: Path, top: str, clock_ns: float,
                activity: "pw.Activity") -> dict:
    """ifmac's power model against OpenSTA 2.0.17's report_power on the flat
    netlist, both under one activity: every net toggling at the mean rate
    measured on its data nets (2.0.17 takes no per-net activity:
    `set_power_activity -global`), the clock's twice per cycle. Three
    columns: ifmac's model; OpenSTA's arithmetic replayed on ifmac's
    reading of the library and netlist (opensta_power), which must match
    OpenSTA; OpenSTA. Switching is at cell outputs (OpenSTA leaves out the
    nets that top-level inputs drive). docs/signoff.md says why ifmac's
    internal power differs from 2.0.17's."""
    from .opensta_power import report_power
    work = Path(work).resolve()
    # The clock's nets (the port and its names inside) toggle as clk does.
    clock = {net for net, n in activity.toggles.items() if n == activity.toggles["clk"]}
    data = [n for net, n in activity.toggles.items() if net not in clock]
    rate = sum(data) / (activity.cycles * len(data))
    uniform = pw.Activity(activity.cycles, {net: 2 * activity.cycles if net in clock
                                            else rate * activity.cycles
                                            for net in activity.toggles})
    lib = pw.load_library(str(liberty))
    own = pw.power(lib, work / "total.netlist.json", top, uniform, clock_ns)
    out = _sta(sta, liberty, work / "total.liberty.v", top, work / "mac.sdc", work, "power",
               f"set_power_activity -global -activity {rate:.6g} -duty 0.5\n"
               f"report_power -digits 6\n{_SLEWS_TCL}", _TOTAL)
    internal, switching, leakage, _ = (float(x) * 1e3 for x in _TOTAL.search(out).groups())
    slews = {}
    for line in (work / "power.slews").read_text().splitlines():
        pin, rise, fall = line.split()
        slews[pin] = (float(rise) * lib.time_unit_ns, float(fall) * lib.time_unit_ns)
    (work / "power.slews").unlink()
    columns = {
        "ifmac": {"internal_mw": own.internal_mw,
                  "switching_mw": own.switching_mw - own.input_switching_mw,
                  "leakage_mw": own.leakage_mw},
        "replay": report_power(lib, work / "total.netlist.json", top, rate, clock, clock_ns,
                               slews),
        "opensta": {"internal_mw": internal, "switching_mw": switching,
                    "leakage_mw": leakage}}
    for c in columns.values():
        c["total_mw"] = sum(c.values())
    return {"activity": round(rate, 5)} | {
        name: {k: round(v, 6) for k, v in c.items()} for name, c in columns.items()}


def _record(p: "pw.Power", beats: int, pairs: int) -> dict:
    return {"internal_mw": round(p.internal_mw, 4), "switching_mw": round(p.switching_mw, 4),
            "leakage_mw": round(p.leakage_mw, 6), "total_mw": round(p.total_mw, 4),
            "energy_pj_per_beat": round(p.energy_pj() / beats, 3),
            "energy_pj_per_mac": round(p.energy_pj() / pairs, 4)}


def power_runs(dut: MAC, work: Path, cell_models: Path, liberty: Path, clock_ns: float,
               beats_by_set: dict | None = None, stages: bool = True,
               sta: Path | None = None) -> list[dict]:
    """One power record per data set (power.py), from the SAIF of a
    gate-level run of that data on the flat netlist; the first record also
    splits it per stage (`stages`), from a run of the same data on the
    hierarchy-preserving netlist, and, given OpenSTA (`sta`), holds the
    check of the power model against it (power_check)."""
    from ifmac.sim.backends import GateLevelBackend
    lib = pw.load_library(str(liberty))
    build = _backend(dut, work, cell_models)._build()     # the GLS check's build
    records = []
    for name, beats in (beats_by_set or data_sets(dut.config)).items():
        act = _activity(build, dut, beats, work / f"power-{name}.saif")
        p = pw.power(lib, work / "total.netlist.json", dut.name, act, clock_ns)
        pairs = len(beats) * dut.block_size
        rec = {"data": name, "clock_ns": clock_ns, "beats": len(beats), "cycles": act.cycles}
        records.append(rec | _record(p, len(beats), pairs))
        if sta is not None and len(records) == 1:
            records[0]["opensta_check"] = power_check(sta, liberty, work, dut.name, clock_ns,
                                                      act)
        if stages and len(records) == 1:
            hier = GateLevelBackend(dut, work / "stages.liberty.v", cell_models)._build()
            act = _activity(hier, dut, beats, work / f"power-{name}-stages.saif")
            p = pw.power(lib, work / "stages.netlist.json", dut.name, act, clock_ns)
            records[0]["stages"] = {
                part or OTHER_STAGE: _record(pw.Power(clock_ns, act.cycles, *mw), len(beats),
                                             pairs)
                for part, mw in sorted(p.parts.items(), key=lambda kv: _stage_order(kv[0]))}
    return records


def _stage_order(part: str) -> int:
    return STAGES.index(part) if part in STAGES else len(STAGES)
