"""One table across technologies (`make nodes`, `ifmac synth --tech all`).

The same configurations are synthesized and signed off (timing, gate-level
simulation, power from gate-level activity) in every vendored technology
(OSU 0.18, legacy, is left out: `--tech osu018` runs it alone), each
reported into OUT/<tech>/ with its own area.json, the default technology's
netlists in the netlist folder itself (those of `make synth`, reused) and
the others' in <netlist folder>/<tech>/; then
OUT/nodes.json, nodes.md and nodes.png put them side by side: area per
element pair, fmax and energy per MAC, and each one's ratio to NVFP4 of the
same arch in the same technology.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ifmac.engine import table, write_json
from ifmac.golden.config import ARCHS, Config
from ifmac.tech import DEFAULT_TECH, TECHNOLOGIES, Technology, find_liberty

from .plan import GateLevel, Options, run
from .records import BASELINE
from .render import save_figure

__all__ = ["NODE_FORMATS", "node_configs", "run_nodes", "write_nodes"]

#: The formats `make nodes` compares at B = 16, lane and fused.
NODE_FORMATS = ("if4", "nvfp4", "nvint4", "mxfp4")
NODE_BLOCK = 16


def node_configs(formats=NODE_FORMATS) -> list[Config]:
    return [Config.make(f, a, NODE_BLOCK) for f in formats for a in ARCHS]


def run_nodes(configs: list[Config], jobs: int, options: Options) -> int:
    """`configs` in every technology (one line saying why for one whose
    library cannot be had), every MAC simulated at gate level; then the
    cross-node reports. Exit status 1 when any gate-level simulation
    mismatched."""
    out = Path(options.out_dir)
    netlists = Path(options.work_dir or out)
    status, done = 0, []
    for tech in (t for t in TECHNOLOGIES.values() if t.vendored):
        lib, how = find_liberty(tech=tech)
        if lib is None:
            print(f"ifmac nodes: {tech.name} left out: {how}", flush=True)
            continue
        print(f"\nifmac nodes: {tech.label}", flush=True)
        status |= run(configs, jobs, replace(
            options, out_dir=out / tech.name,
            work_dir=netlists if tech == DEFAULT_TECH else netlists / tech.name,
            tech=tech, liberty=None, gate_level=GateLevel.EVERY))
        done.append(tech)
    paths = write_nodes(out, done)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return status


def _rows(out: Path, techs: list[Technology]) -> list[dict]:
    rows = []
    for tech in techs:
        doc = json.loads((out / tech.name / "area.json").read_text())
        for r in doc["configurations"]:
            p = r["power"][0] if r["power"] else None
            t = r["timing"]
            rows.append({
                "technology": tech.name, "configuration": r["top"], "format": r["format"],
                "arch": r["arch"], "block_size": r["block_size"],
                "area_um2_per_pair": round(r["total"]["area_um2"] / r["block_size"], 2),
                "fmax_mhz": t and t["fmax_mhz"],
                "energy_pj_per_mac": p and p["energy_pj_per_mac"],
                "gls_mismatches": r["gls"] and r["gls"]["mismatches"],
                "area_vs_nvfp4": r["ratio_to_nvfp4"]["area_um2"],
                "fmax_vs_nvfp4": r["ratio_to_nvfp4"]["fmax_mhz"],
                "energy_vs_nvfp4": r["ratio_to_nvfp4"]["energy_pj_per_mac"]})
    return rows


def _fmt(v, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def write_nodes(out: Path, techs: list[Technology]) -> list[Path]:
    """nodes.json, nodes.md and nodes.png from OUT/<tech>/area.json."""
    rows = _rows(out, techs)
    paths = [write_json(out / "nodes.json", {
        "technologies": {t.name: t.label for t in techs}, "baseline": BASELINE,
        "rows": rows}), out / "nodes.md"]
    lines = ["# ifmac across technologies", "",
             "Each technology's own synthesis, OpenSTA timing (fmax at its worst path) and "
             "energy per MAC from the gate-level activity of realistic data (docs/signoff.md) "
             "at a 10 ns clock; ratios are to NVFP4 of the same arch in the same technology. "
             "Area per element pair is the MAC's area over its block size.", ""]
    lines += [f"- {t.name}: {t.label}" for t in techs] + [""]
    names = [t.name for t in techs]
    keys = list(dict.fromkeys((r["format"], r["arch"]) for r in rows))
    by = {(r["technology"], r["format"], r["arch"]): r for r in rows}
    for title, metric, digits, ratio in (
            ("Area per element pair, um^2 (and / nvfp4)", "area_um2_per_pair", 1,
             "area_vs_nvfp4"),
            ("fmax, MHz (and / nvfp4)", "fmax_mhz", 1, "fmax_vs_nvfp4"),
            ("Energy per MAC, pJ (and / nvfp4)", "energy_pj_per_mac", 4, "energy_vs_nvfp4")):
        lines += [f"## {title}", ""]
        body = []
        for f, a in keys:
            cells = []
            for n in names:
                r = by.get((n, f, a))
                cells.append("-" if r is None else
                             f"{_fmt(r[metric], digits)} ({_fmt(r[ratio], 3)})")
            body.append([f"{f} {a}", *cells])
        lines += table(["configuration", *names], body) + [""]
    paths[1].write_text("\n".join(lines))
    if _chart(rows, names, keys, out / "nodes.png"):
        paths.append(out / "nodes.png")
    return paths


def _chart(rows: list[dict], names: list[str], keys: list, path: Path) -> bool:
    """Area and energy per MAC relative to NVFP4, per configuration, a bar
    per technology."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    by = {(r["technology"], r["format"], r["arch"]): r for r in rows}
    shown = [k for k in keys if k[0] != BASELINE]
    if not shown:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / max(1, len(names))
    for ax, metric, what in ((axes[0], "area_vs_nvfp4", "area / nvfp4"),
                             (axes[1], "energy_vs_nvfp4", "energy per MAC / nvfp4")):
        for i, n in enumerate(names):
            values = [(by.get((n, *k)) or {}).get(metric) or 0.0 for k in shown]
            ax.bar([x + i * width for x in range(len(shown))], values, width, label=n)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(shown))])
        ax.set_xticklabels([f"{f}\n{a}" for f, a in shown])
        ax.set_ylabel(what)
        ax.set_title(f"{what}, same arch and technology")
        ax.legend()
    save_figure(fig, path)
    return True
