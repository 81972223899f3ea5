"""`make synth` / `ifmac synth`: which configurations, how each is
synthesized and signed off, and the run that ties them to the reports.

* planning: the default and family configurations, their baselines, the
  pipeline ladder a clock target climbs (`ladder`, `fit`), which
  configurations get a gate-level simulation and power (`GateLevel`);
* `run`: every configuration through ifmac.engine's pool, then
  ifmac.synth.records and ifmac.synth.render write the reports.
"""

from __future__ import annotations

import enum
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ifmac.engine import progress_prefix, run_units
from ifmac.golden.config import ARCHS, INTERLEAVES, Config
from ifmac.golden.errors import InputError
from ifmac.golden.formats import FORMAT_NAMES, get_format
from ifmac.tech import DEFAULT_TECH, Technology, find_cell_models, find_liberty
from ifmac.tools import YosysTool, find_sta, yosys_tool

from . import signoff
from .flow import Result, synthesize
from .power import load_library
from .records import BASELINES, report_records, twin
from .render import YOWASP_NOTE, fmt_num, write_reports

__all__ = ["DEFAULT_SYNTH_CONFIGS", "ALL_SYNTH_CONFIGS", "MODE_SYNTH_CONFIGS", "FAMILY_CONFIGS", "PARTS", "GateLevel", "Mode", "Options",
           "with_baselines", "ladder", "fit", "run"]

#: IF4 with the deferred expansion (fused, lane) and the exact arch (both
#: expansions) against NVFP4 and NVINT4 in the exact arch; with_baselines
#: adds the nvfp4 exact MAC.
MODE_SYNTH_CONFIGS = [Config.make("if4", a, expansion="deferred") for a in ("fused", "lane")] + [
    Config.make("if4", "exact"), Config.make("if4", "exact", expansion="deferred"),
    Config.make("nvint4", "exact")]

#: `make synth-all` (--every-lane): every format x both archs at its own
#: block size (MX 32, the others 16), and the modes above; with_baselines
#: adds nvfp4 at 32 and mxfp4 at 16.
ALL_SYNTH_CONFIGS = [Config.make(f, a) for f in FORMAT_NAMES for a in ARCHS] + MODE_SYNTH_CONFIGS

#: `make synth`: the same without the lane MACs at B = 32 (the MX formats'),
#: which take 4-6 minutes of Yosys each in IHP SG13G2, and the deferred
#: if4 lane MAC (with its gate-level run in make signoff, about 8 minutes),
#: which would take `make synth` or `make signoff` past their 25 minutes.
DEFAULT_SYNTH_CONFIGS = [c for c in ALL_SYNTH_CONFIGS if c.group > 1 or
                         (c.block_size < 32 and c.expansion == "scale")]

#: `make family` (--family): the design space between lane and fused, every
#: format at B = 16 with groups of 1, 4 and 16, and the exact arch of the
#: E4M3-scaled formats.
FAMILY_GROUPS = (1, 4, 16)
FAMILY_CONFIGS = [Config.make(f, g, 16) for f in FORMAT_NAMES for g in FAMILY_GROUPS] + [
    Config.make(f, "exact", 16) for f in FORMAT_NAMES if not get_format(f).scale.power_of_two]


def with_baselines(configs: list[Config]) -> list[Config]:
    """`configs` plus the nvfp4 and mxfp4 configurations of the same shape
    (group, block size, pipeline), so that every record has its ratios."""
    configs = list(dict.fromkeys(configs))
    extra = [twin(c, fmt=base) for c in configs for base in BASELINES]
    return list(dict.fromkeys(configs + [c for c in extra if c]))


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


class GateLevel(enum.Enum):
    """Which configurations get a gate-level simulation and power, and whose
    power is split per stage."""
    #: `make signoff`: every MAC with G > 1 and the SIGNOFF_LANES lanes;
    #: the fused MACs' power split per stage.
    DEFAULT = "default"
    #: `make family`: every MAC; the fused MACs' power split per stage.
    EVERY = "every"
    #: `make signoff-all`: every MAC, every power split per stage.
    EVERY_SPLIT = "every-split"

    def simulates(self, config: Config) -> bool:
        """Whether `config`'s netlist is simulated and its power measured."""
        return (self != GateLevel.DEFAULT or config.group > 1
                or (config.format.name in SIGNOFF_LANES
                    and config.block_size == SIGNOFF_LANE_BLOCK))

    def splits(self, config: Config) -> bool:
        """Whether `config`'s power is split per stage."""
        return self == GateLevel.EVERY_SPLIT or config.group == config.block_size




class Mode(enum.Enum):
    """What the clock is: the clock of the timing and power (FIXED), a
    target every configuration is pipelined to meet (TARGET), or every
    pipeline of each configuration's ladder at it (SWEEP)."""
    FIXED = "fixed"
    TARGET = "target"
    SWEEP = "sweep"


@dataclass(frozen=True)
class Options:
    """How `run` synthesizes and signs off: reports into `out_dir`, each
    configuration's synthesis folder in `work_dir` (default `out_dir`),
    the technology `tech` or the Liberty library `liberty` (a path, which
    wins; `use_liberty` False: generic gates only), the `parts` of the signoff at
    `clock_ns`, the baselines added or not, which configurations are
    simulated at gate level, and what the clock is."""
    out_dir: Path
    work_dir: Path | None = None
    tech: Technology = DEFAULT_TECH
    liberty: str | None = None
    use_liberty: bool = True
    baselines: bool = True
    parts: tuple[str, ...] = PARTS
    clock_ns: float = signoff.DEFAULT_CLOCK_NS
    gate_level: GateLevel = GateLevel.DEFAULT
    mode: Mode = Mode.FIXED


def ladder(config: Config) -> list[Config]:
    """The pipelines a clock target tries, shortest first: 0 to every
    optional cut (Config.cut_order), then every cut with interleave 2 and 4."""
    flat = config.replace(pipeline=0, interleave=1)
    return ([flat.replace(pipeline=n) for n in range(len(flat.cut_order()) + 1)]
            + [flat.replace(pipeline="max", interleave=k) for k in INTERLEAVES[1:]])


def fit(config: Config, clock_ns: float, out_dir: Path, liberty: Path, tool: YosysTool,
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
        print(f"  {config.name} at {clock_ns:g} ns: try {r.config.name}, fmax "
              f"{r.timing['fmax_mhz']:.1f} MHz, {'meets' if met else 'misses'}", flush=True)
        if met:
            best, hi = r, mid - 1
        else:
            lo = mid + 1
    return best or tried[max(tried)]


@dataclass(frozen=True)
class _Tools:
    """What the signoff parts run with."""
    liberty: Path | None
    sta: Path | None = None
    cells: Path | None = None


def _signoff(r: Result, work_dir: Path, parts: tuple[str, ...], tools: _Tools,
             options: Options) -> Result:
    """The signoff parts of one synthesized configuration, in its folder."""
    from ifmac.hdl.mac import MAC, used
    work = work_dir / r.top
    dut = used(MAC(r.config))   # its parameters, not its RTL

    def timed(part, fn):
        t0 = time.perf_counter()
        value = fn()
        r.part_seconds[part] = round(time.perf_counter() - t0)
        return value

    if "timing" in parts and r.timing is None:
        r.timing = timed("timing", lambda: asdict(signoff.timing(
            tools.sta, tools.liberty, work, r.top, options.clock_ns)))
    if not options.gate_level.simulates(r.config):
        return r
    if "gls" in parts:
        r.gls = timed("gls", lambda: signoff.gls(dut, work, tools.cells))
    if "power" in parts:
        r.power = timed("power", lambda: signoff.power_runs(
            dut, work, tools.cells, tools.liberty, options.clock_ns,
            stages=options.gate_level.splits(r.config), sta=tools.sta))
    return r


def _signoff_tools(liberty: Path | None, parts: tuple[str, ...]) -> tuple[tuple, dict, _Tools]:
    """(the parts that can run, why each other one cannot, the tools they
    need); one line printed per tool found and per part that cannot run
    (its figures are then "-")."""
    found, why = {}, {}
    if liberty is None:
        why = {p: "no Liberty library" for p in parts}
    else:
        if "timing" in parts:
            found["sta"], how = find_sta()
            print(how, flush=True)
            if found["sta"] is None:
                why["timing"] = how
        if "gls" in parts or "power" in parts:
            found["cells"], how = find_cell_models(liberty)
            print(how, flush=True)
            if found["cells"] is None:
                why |= {p: how for p in ("gls", "power") if p in parts}
    for part, reason in why.items():
        print(f"no {part}: {reason}", flush=True)
    return tuple(p for p in parts if p not in why), why, _Tools(liberty, **found)


def _progress(k: int, n: int, r: Result) -> str:
    t = r.total
    lib = (f", {fmt_num(t.area_um2)} um^2, {fmt_num(t.delay_ps)} ps"
           if t.area_um2 is not None else "")
    line = (f"{progress_prefix(k, n)} {r.config.name}: {t.cells:,} cells, "
            f"{t.transistors:,} transistors, depth {fmt_num(t.logic_depth)}{lib}")
    if r.timing:
        line += f"; fmax {r.timing['fmax_mhz']:.1f} MHz"
    if r.gls:
        line += f"; GLS {r.gls['beats']:,} beats, {r.gls['mismatches']} mismatches"
    if r.power:
        line += f"; {r.power[0]['energy_pj_per_mac']:.2f} pJ/MAC"
    parts = "".join(f", {p} {s:.0f} s" for p, s in r.part_seconds.items())
    return line + f" ({r.seconds:.0f} s{parts})"


def _one(config: Config, plan: tuple) -> Result:
    """One configuration: synthesized (or fitted to the clock target), then
    signed off."""
    options, work_dir, liberty, tool, parts, tools = plan
    r = (fit(config, options.clock_ns, work_dir, liberty, tool, tools.sta)
         if options.mode == Mode.TARGET else synthesize(config, work_dir, liberty, tool))
    t1 = time.perf_counter()
    if parts:
        r = _signoff(r, work_dir, parts, tools, options)
    r.seconds = round(r.seconds + time.perf_counter() - t1, 1)
    return r


def run(configs: list[Config], jobs: int, options: Options) -> int:
    """Synthesize `configs` (plus their nvfp4 and mxfp4 baselines unless
    told not to) and run the signoff parts on each as `options` say, print
    progress and write the reports. Each configuration is synthesized in its
    own folder under the work folder, where a finished run of the same
    inputs is reused. Exit status 1 when the gate-level simulation of any
    configuration mismatched."""
    t0 = time.perf_counter()
    out_dir = Path(options.out_dir)
    work_dir = Path(options.work_dir or out_dir)
    liberty, how = (find_liberty(options.liberty, options.tech) if options.use_liberty
                    else (None, "no Liberty library (--no-liberty): generic CMOS figures only"))
    tool = yosys_tool()
    if options.mode == Mode.SWEEP:
        configs = list(dict.fromkeys(s for c in configs for s in ladder(c)))
    if options.baselines:
        configs = with_baselines(configs)
    print(f"ifmac synth: {len(configs)} configurations, {jobs} jobs, yosys {tool}", flush=True)
    print(how, flush=True)
    if tool == YosysTool.YOWASP:
        print(YOWASP_NOTE, flush=True)
    parts, missing, tools = _signoff_tools(liberty, tuple(options.parts))
    gate_parts = {"gls", "power"} & set(parts)
    if options.mode == Mode.TARGET and "timing" not in parts:
        raise InputError(f"a clock target needs OpenSTA timing: {missing.get('timing')}")
    if gate_parts and not all(options.gate_level.simulates(c) for c in configs):
        missing["gate-level simulation and power of the other lane MACs"] = GATE_LEVEL_SKIPPED
        print(GATE_LEVEL_SKIPPED, flush=True)
    if "power" in parts and not all(options.gate_level.splits(c) for c in configs):
        missing["power per stage of the lane MACs"] = STAGE_POWER_SKIPPED
        print(STAGE_POWER_SKIPPED, flush=True)

    # Biggest first, so the parallel jobs finish together. Threads: the work
    # is Yosys, OpenSTA and Verilator subprocesses.
    order = sorted(configs, key=lambda c: (-c.groups * c.block_size // 16, -c.block_size))
    plan = (options, work_dir, liberty, tool, parts, tools)
    results = run_units(lambda c: _one(c, plan), order, jobs, _progress, threads=True)
    tech = load_library(str(liberty)).tech if liberty else None
    paths = write_reports(report_records(results), out_dir, liberty.name if liberty else None,
                          tool, missing, options.clock_ns, tech)
    print(f"\nwrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - t0:.0f} s")
    bad = [r for r in results if r.gls and r.gls["mismatches"]]
    for r in bad:
        print(f"GLS MISMATCH {r.top}: {r.gls['first_error']} (waveform {r.gls['waveform']})")
    return 1 if bad else 0
