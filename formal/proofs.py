"""The proofs of `make formal` / `ifmac formal`: which exist, how each is
built, and running them side by side with a report.

A `Proof` names one SymbiYosys run: its kind (a harness of
ifmac.formal.harness), the configuration it is about, and the verdict it
must reach. Every proof must PASS, except the mutants: a deliberately
broken copy of the design (one decode table entry, the latency) whose proof
must FAIL with a counterexample trace, which shows that the proofs can fail
at all.

Each proof runs in build/formal/<kind>/<config>/ (sby.log, and on failure
run/engine_0/trace.vcd); the run writes build/formal/summary.json and
summary.md.
"""

from __future__ import annotations

import enum
import json
from typing import Callable
import shutil
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from amaranth import Const
from amaranth.back import rtlil

from ifmac.engine import progress_prefix, run_units, table, write_json
from ifmac.golden.config import Config
from ifmac.golden.errors import InputError
from ifmac.golden.formats import BLOCK_SIZES, FORMAT_NAMES, get_format
from ifmac.golden.model import ARCHS
from ifmac.hdl.fp import FixedToFloat32, Float32Adder, Float32Multiplier
from ifmac.golden.kulisch import geometry
from ifmac.hdl.kulisch import ExactRound
from ifmac.hdl.mac import DEFAULT_CONFIGS, MAC
from ifmac.sim.regress import EXACT_CONFIGS
from ifmac.tech import DEFAULT_TECH, Technology, find_liberty, technology_of
from ifmac.tools import Verdict, abc_executable, warm_yosys, yosys_tool

from . import equiv, harness
from .sby import ENGINE, Outcome, run_dprove, run_sby

__all__ = ["Proof", "Mutant", "Kind", "KINDS", "MUTANTS", "all_proofs", "quick_proofs",
           "run_proof", "run"]


class Kind(enum.StrEnum):
    """Proof kinds, in report order."""
    DATAPATH = "datapath"
    CONTROL = "control"
    ROUND = "round"
    FP_UNIT = "fp_unit"
    NETLIST = "netlist"


KINDS = tuple(Kind)

#: Seconds ABC may take on one miter of a netlist proof.
NETLIST_TIMEOUT = 300.0

#: What a netlist proof reads from the synthesis folder.
NETLIST_FILES = ("mac.il", "stages.generic.v", "total.generic.v", "total.liberty.v",
                 "cells.lib", "total.netlist.json")


def _fused_converter(pipeline: int) -> FixedToFloat32:
    """FixedToFloat32 at the widths the fused if4 b16 MAC uses it: the dot
    product's width and 2 * frac_bits fraction bits."""
    mac = harness.used(MAC(Config.make("if4", "fused", 16)))
    mac.elaborate(None)
    return FixedToFloat32(len(mac.probes["dot"]), 2 * mac.fmt.frac_bits, pipeline=pipeline)


#: FP32 units and the pipeline depths whose equivalence to the
#: combinational unit is proved.
FP_UNITS = {
    "adder": lambda p: Float32Adder(pipeline=p),
    "multiplier": lambda p: Float32Multiplier(pipeline=p),
    "fixed_to_float": _fused_converter,
}
FP_PIPELINES = (1, 2)

#: Control proofs also run on pipelined MACs of these configurations.
PIPELINED_CONTROL = [Config.make("if4", a, 16, p) for a in ARCHS for p in (1, 2)]

#: The exact arch at B = 16: every E4M3-scaled format, and the IF formats
#: with the deferred expansion (datapath, and the end of segment's rounding).
EXACT_PROVED = [c for c in EXACT_CONFIGS if c.block_size == 16]
#: Its control: unpipelined, and with 1 and 2 cuts (accumulate, group).
EXACT_CONTROL = [Config.make(f, "exact", 16, p) for f in ("if4", "nvfp4") for p in (0, 1, 2)]
#: The exact MACs of make synth whose netlists are proved.
EXACT_NETLISTS = [Config.make(f, "exact", 16) for f in ("if4", "nvfp4")]
#: The end-of-segment proofs of `make formal`: no divisor (NVFP, NVINT,
#: deferred) and IF3's 9 (under a minute); `make formal-all`
#: (`--every-lane`) adds IF4's 49 (10 to 13 minutes of ABC, which would take
#: make formal past 30 minutes) and IF6's 961 and 3844 (no verdict after 13
#: minutes); simulation checks every one of them.
ROUND_DIVISORS = (1, 9)


class Mutant(enum.StrEnum):
    """A deliberate defect."""
    DECODE_ENTRY = "decode_entry"
    LATENCY = "latency"
    ROUND_STICKY = "round_sticky"
    NETLIST_CELL = "netlist_cell"


@dataclass(frozen=True)
class Proof:
    """One proof: its kind and the configuration it is about (fp_unit: the
    FP32 unit and its pipeline instead), and whether a mutant of it is
    proved (which must fail)."""
    kind: Kind
    config: Config | None = None
    unit: str | None = None         # fp_unit: FP_UNITS key, or "adder_commutes"
    pipeline: int = 0               # fp_unit: the unit's register cuts
    mutant: Mutant | None = None

    @property
    def subject(self) -> str:
        """What the proof is about: the configuration's name (a mutant's
        with `_mutant_<what>`), or the FP32 unit."""
        if self.kind == Kind.FP_UNIT:
            return self.unit + (f"_p{self.pipeline}" if self.pipeline else "")
        return self.config.name + (f"_mutant_{self.mutant}" if self.mutant else "")

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.subject}"

    @property
    def engine(self) -> str:
        """ABC's dprove where SAT sweeping finds the shared points (the
        datapath, the FP32 units), PDR for the control."""
        return "abc pdr" if self.kind == Kind.CONTROL else "abc dprove"

    @property
    def expect(self) -> Verdict:
        return Verdict.FAIL if self.mutant else Verdict.PASS

    @property
    def statement(self) -> str:
        """What a PASS proves, in one line."""
        if self.mutant:
            return f"a proof of a design with a mutated {self.mutant.replace('_', ' ')} fails"
        return {
            "datapath": ("the exact arch's class weight and the scale part of its term "
                         "equal the registry's, for every scale pair (its decode, products "
                         "and D are the fused MAC's stages, proved there)"
                         if self.config is not None and self.config.exact else
                         "decoded values, exact products, D (fused) and C equal the "
                         "registry's tables, for all inputs"),
            "control": "result_valid exactly latency cycles after each last beat and never "
                       "else; status = OR of the segment's flags; gaps and reset as "
                       "contract §4, for every input sequence",
            "round": "the exact arch's end of segment: the result is the accumulator times "
                     "2^L / d^2 rounded to nearest even (a zero +0, the sign kept, never "
                     "subnormal or infinite), for every accumulator value",
            "netlist": "the synthesized netlists (generic gates, Liberty cells) equal the RTL, "
                       "registers as cut points, for every input and state",
            "fp_unit": ("a + b == b + a, bit for bit, for all a, b"
                        if self.unit == "adder_commutes" else
                        f"pipeline {self.pipeline} == combinational, delayed by "
                        f"{self.pipeline} cycle{'s' if self.pipeline > 1 else ''}, for every "
                        "input sequence"),
        }[self.kind]


class _WrongDecodeMAC(MAC):
    """The decode stage built from a table with code 1's FP value one unit of
    2^-frac_bits too large."""

    @property
    def decode_table(self):
        table = super().decode_table.copy()
        table[0][1] += 1
        return table


class _WrongLatencyMAC(MAC):
    """A MAC that states one cycle more latency than it has."""

    @property
    def latency(self) -> int:
        return super().latency + 1


class _NoStickyRound(ExactRound):
    """The exact arch's rounding without its sticky bit: a tie where the
    value is above it."""

    @staticmethod
    def sticky(below, remainder):
        return Const(0, 1)


#: The MAC class of each mutant.
_MUTANT_MACS = {Mutant.DECODE_ENTRY: _WrongDecodeMAC, Mutant.LATENCY: _WrongLatencyMAC}


def _mac(proof: Proof) -> MAC:
    return (_MUTANT_MACS[proof.mutant] if proof.mutant else MAC)(proof.config)


def design(proof: Proof) -> str:
    """The RTLIL of `proof`'s harness, top module `top`."""
    if proof.kind == Kind.FP_UNIT:
        if proof.unit == "adder_commutes":
            m, ports = harness.adder_commutes()
        else:
            m, ports = harness.pipelined_unit(FP_UNITS[proof.unit], proof.pipeline)
    elif proof.kind == Kind.DATAPATH and proof.config.exact:
        m, ports = harness.exact_scale(proof.config)
    elif proof.kind == Kind.ROUND:
        m, ports = harness.exact_round(proof.config, _NoStickyRound if proof.mutant else None)
    else:
        build = harness.datapath if proof.kind == Kind.DATAPATH else harness.control
        m, ports = build(_mac(proof))
    return rtlil.convert(m, ports=ports, name="top", emit_src=False)


@dataclass
class Record:
    """One proof's line of the report."""
    name: str
    kind: Kind
    statement: str
    engine: str
    expect: Verdict
    status: Verdict
    ok: bool
    seconds: float
    folder: str
    trace: str | None
    detail: str


def _netlist_proof(proof: Proof, folder: Path, netlists: Path,
                   liberty: Path | None) -> Outcome:
    """Synthesize (or reuse) the configuration's netlists in `netlists`, copy
    them into `folder` (a mutant changes one cell of its copy) and prove the
    chain of ifmac.formal.equiv."""
    from ifmac.synth.flow import present_stages, synthesize
    result = synthesize(proof.config, netlists, liberty)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in NETLIST_FILES:
        if (netlists / result.top / name).exists():
            shutil.copyfile(netlists / result.top / name, folder / name)
    notes = []
    if proof.mutant:
        tech = technology_of(liberty) if liberty else DEFAULT_TECH
        cell, kind = equiv.cell_before_result_bit(folder, result.top, 23, tech)
        swapped = equiv.swap_cell(folder / "total.liberty.v", cell, kind, tech)
        notes.append(f"mutant: {cell} {kind} -> {swapped}")
    stages = present_stages(result.top, (folder / "mac.il").read_text())
    checks = equiv.prove_netlists(folder, result.top, stages, liberty is not None,
                                  abc_executable(), NETLIST_TIMEOUT, yosys_tool())
    (folder / "checks.json").write_text(json.dumps([asdict(c) for c in checks], indent=1))
    if liberty is None:
        notes.append("no Liberty library: the Liberty netlist is not checked")
    statuses = [c.status for c in checks]
    status = (Verdict.FAIL if Verdict.FAIL in statuses else
              Verdict.PASS if set(statuses) == {Verdict.PASS} else
              next(s for s in statuses if s != Verdict.PASS))
    trace = next((c.trace for c in checks if c.trace), None)
    lines = notes + [f"{c.name}: {c.status} {c.seconds:.1f} s; {c.detail}" for c in checks]
    return Outcome(status, Path(trace) if trace else None, "\n".join(lines))


def run_proof(proof: Proof, out_dir: Path, netlists: Path | None = None,
              liberty: Path | None = None) -> Record:
    """Build and run one proof; an error while building it is its verdict.
    A netlist proof synthesizes into (or reuses) `netlists`."""
    folder = Path(out_dir) / proof.kind / proof.subject
    t0 = time.perf_counter()
    try:
        if proof.kind == Kind.NETLIST:
            outcome = _netlist_proof(proof, folder, Path(netlists), liberty)
        else:
            runner = run_sby if proof.engine == ENGINE else run_dprove
            outcome = runner(folder, design(proof), "top")
    except (RuntimeError, ValueError) as e:
        outcome = Outcome(Verdict.ERROR, None, str(e))
    seconds = round(time.perf_counter() - t0, 1)
    ok = outcome.status == proof.expect and (proof.expect == Verdict.PASS
                                             or outcome.trace is not None)
    return Record(proof.name, proof.kind, proof.statement, proof.engine, proof.expect,
                  outcome.status, ok, seconds, str(folder),
                  str(outcome.trace) if outcome.trace else None, outcome.detail)


# --------------------------------------------------------------------------
# The proof sets
# --------------------------------------------------------------------------

def _datapath_twins() -> dict[str, str]:
    """Formats whose datapath is generated from the same value table as an
    earlier format's (an MX format and the NVFP format with its element:
    same decode, products and D; only the scale path differs, which the
    datapath proof does not cover), mapped to that format."""
    first, twins = {}, {}
    for name in FORMAT_NAMES:
        f = get_format(name)
        key = (f.fixed_table.tobytes(), f.adaptive, f.bits)
        if key in first:
            twins[name] = first[key]
        else:
            first[key] = name
    return twins


#: mxfp4 -> nvfp4, ...: `make formal` proves the datapath of the format on
#: the right, which is the same RTL (tests/test_formal.py checks it).
DATAPATH_TWINS = _datapath_twins()


#: The lane MACs whose netlists `make formal` proves (each takes 4 to 7
#: minutes, most of it the synthesis); `--every-lane` (`make formal-all`)
#: proves every default lane configuration's.
NETLIST_LANES = [("if4", 16), ("nvfp4", 16)]


def all_proofs(kinds=KINDS, every_lane: bool = False,
               select: Callable[[Config], bool] | None = None,
               named: tuple[str, ...] = ()) -> list[Proof]:
    """`make formal`: datapath for every format x B (fused: D is there; lane
    at B=16; a format in DATAPATH_TWINS only when asked for by name),
    control for every default configuration and pipelined if4, the FP32
    units, the netlists of every fused default configuration and of
    NETLIST_LANES (`every_lane`: of every default lane configuration), and
    the mutants; or those of them whose configuration `select` accepts (the
    FP32 units have none, and are always selected). A format `named` has its
    datapath proved even when it is a twin."""
    datapath = [f for f in FORMAT_NAMES if f in named or f not in DATAPATH_TWINS]
    proofs = [Proof(Kind.DATAPATH, Config.make(f, "fused", b))
              for f in datapath for b in BLOCK_SIZES]
    proofs += [Proof(Kind.DATAPATH, Config.make(f, "lane", 16)) for f in datapath]
    # The deferred expansion changes only S's constants: its datapath.
    proofs += [Proof(Kind.DATAPATH, Config.make(f, "fused", 16, expansion="deferred"))
               for f in FORMAT_NAMES if get_format(f).adaptive]
    proofs += [Proof(Kind.DATAPATH, c) for c in EXACT_PROVED]
    proofs += [Proof(Kind.CONTROL, c) for c in DEFAULT_CONFIGS + PIPELINED_CONTROL
               + [Config.make("if4", a, 16, expansion="deferred") for a in ARCHS]
               + EXACT_CONTROL]
    proofs += [Proof(Kind.ROUND, c) for c in EXACT_PROVED
               if every_lane or geometry(c).divisor in ROUND_DIVISORS]
    proofs += [Proof(Kind.FP_UNIT, unit=u, pipeline=p) for u in FP_UNITS for p in FP_PIPELINES]
    proofs.append(Proof(Kind.FP_UNIT, unit="adder_commutes"))
    proofs += [Proof(Kind.NETLIST, c) for c in DEFAULT_CONFIGS + EXACT_NETLISTS
               if c.group == c.block_size or every_lane
               or (c.format.name, c.block_size) in NETLIST_LANES]
    proofs += MUTANTS
    return [p for p in proofs if p.kind in kinds
            and (p.config is None or select is None or select(p.config))]


#: One mutant per kind of defect, each on a small MAC (the netlist mutant's
#: configuration is none of the netlist proofs', so that no two proofs
#: synthesize into the same folder at once).
MUTANTS = [Proof(Kind.DATAPATH, Config.make("if4", "fused", 8), mutant=Mutant.DECODE_ENTRY),
           Proof(Kind.CONTROL, Config.make("if4", "fused", 8), mutant=Mutant.LATENCY),
           Proof(Kind.ROUND, Config.make("nvfp4", "exact", 8), mutant=Mutant.ROUND_STICKY),
           Proof(Kind.NETLIST, Config.make("nvfp3", "fused", 8), mutant=Mutant.NETLIST_CELL)]


def quick_proofs() -> list[Proof]:
    """The subset `make test` runs: one of each kind, small."""
    return [Proof(Kind.DATAPATH, Config.make("if4", "fused", 8)),
            Proof(Kind.CONTROL, Config.make("if4", "lane", 8)),
            Proof(Kind.ROUND, Config.make("nvfp4", "exact", 8)),
            Proof(Kind.CONTROL, Config.make("nvfp4", "fused", 8, 1)),
            Proof(Kind.FP_UNIT, unit="fixed_to_float", pipeline=1), *MUTANTS]


# --------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------

def _markdown(records: list[Record], wall: float) -> str:
    lines = ["# ifmac formal", "",
             f"{len(records)} proofs, {sum(r.ok for r in records)} as expected, "
             f"{wall:.0f} s wall clock. Every engine is unbounded: a PASS is a proof for "
             "every input and input sequence, not a bound.", ""]
    for kind in KINDS:
        rows = [r for r in records if r.kind == kind]
        if not rows:
            continue
        statements = dict.fromkeys(r.statement for r in rows if r.expect == Verdict.PASS)
        lines += [f"## {kind}", "", *(f"- {s}" for s in statements),
                  f"- engine: {rows[0].engine}", ""]
        lines += table(["proof", "expected", "verdict", "s"], (
            [r.name, r.expect, r.status + ("" if r.ok else " (unexpected)"), f"{r.seconds:.1f}"]
            for r in rows))
        lines.append("")
    return "\n".join(lines)


def _progress(k: int, n: int, r: Record) -> str:
    mark = "ok" if r.ok else "UNEXPECTED"
    where = f"; trace {r.trace}" if r.trace else ""
    line = (f"{progress_prefix(k, n)} {r.name}: {r.status} (expected {r.expect}, {mark}) "
            f"{r.seconds:.1f} s{where}")
    return line if r.ok else line + "\n      " + r.detail.replace("\n", "\n      ")


def run(proofs: list[Proof], jobs: int, out_dir: Path, netlists: Path,
        liberty: str | None = None, tech: Technology = DEFAULT_TECH) -> int:
    """Run `proofs`, `jobs` at a time, with a line per finished proof; write
    summary.json and summary.md; 0 when every verdict is the expected one.
    Netlist proofs synthesize into (or reuse) `netlists`, with the Liberty
    library `liberty` (default: the technology `tech`'s, as `ifmac synth`
    finds it)."""
    if not proofs:
        raise InputError("no proof matches the selection (see `ifmac formal --help` for "
                         "what `make formal` proves)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"ifmac formal: {len(proofs)} proofs, {jobs} jobs, into {out_dir}", flush=True)
    lib = None
    if any(p.kind == Kind.NETLIST for p in proofs):
        lib, how = find_liberty(liberty, tech)
        print(f"netlists in {netlists}; {how}", flush=True)
    warm_yosys()
    t0 = time.perf_counter()
    # The longest first (a lane netlist's synthesis), so that the short
    # ones fill the other workers meanwhile.
    first = sorted(proofs, key=lambda p: (p.kind != Kind.NETLIST,
                                          p.config is None or p.config.group != 1))
    work = partial(run_proof, out_dir=out_dir, netlists=netlists, liberty=lib)
    records = run_units(work, first, jobs, _progress)
    order = {p.name: i for i, p in enumerate(proofs)}
    records.sort(key=lambda r: order[r.name])
    wall = time.perf_counter() - t0
    write_json(out_dir / "summary.json",
               {"proofs": [asdict(r) for r in records], "wall_seconds": round(wall, 1)})
    (out_dir / "summary.md").write_text(_markdown(records, wall))
    bad = [r.name for r in records if not r.ok]
    print(f"\n{len(records) - len(bad)}/{len(records)} proofs as expected in {wall:.0f} s; "
          f"wrote {out_dir / 'summary.json'} and {out_dir / 'summary.md'}", flush=True)
    if bad:
        print("unexpected: " + ", ".join(bad), flush=True)
    return 1 if bad else 0
