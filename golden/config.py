"""One MAC configuration: format, group size, block size, register cuts,
interleave (docs/contract.md §3, §4, §6).

`Config` is what the CLI, the golden model, the RTL generator, simulation,
synthesis and the proofs pass between them instead of tuples. It checks its
parameters once, names the Verilog module, states the latency and orders
configurations in reports.

* group G (divides B): the products of each group of G lanes are summed
  exactly and multiplied by S once; one accumulator per group; a pairwise
  FP32 tree over the groups after `last`. `lane` is G = 1, `fused` G = B; any
  other G is named `g<G>` (e.g. g4).
* interleave k (1, 2 or 4): each group keeps k partial accumulators, beat n
  of a segment goes to partial n mod k, so the accumulation add may take k
  cycles; the partials join the reduction tree in front of the groups.
* cuts: where the pipeline registers sit. The register after `multiply`
  (the accumulator's input) is always there; the others are optional: after
  `decode`, `product`, `scale`, `group` (G > 1), after `accumulate` and after
  level L of the reduction tree (`tree:L`, 1 <= L < its depth). `max` is
  every one of them; an integer N takes the first N of `cut_order()`.
* exact: the `exact` arch sums each beat's block like fused, but scales
  and accumulates it in a fixed-point (Kulisch) accumulator without
  rounding, and rounds once per segment (ifmac.golden.kulisch). E4M3
  formats only; no interleave (the integer add takes one cycle).
* expansion (IF formats): `scale`, the paper's, multiplies S by the
  rational INT expansion C rounded to binary32; `deferred` multiplies it by
  an integer class weight instead, d^2 C^k for k INT blocks of the pair (C =
  n/d: d^2, n d or n^2), which makes S exact, and the result comes in
  units of 1/d^2, which the system applies with its global factors
  (docs/contract.md §3).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from .errors import InputError
from .formats import Format, check_block_size, f32_bits, get_format

__all__ = ["Config", "Cut", "TreeCut", "Expansion", "STAGES", "ARCHS", "EXACT", "ARCH_NAMES",
           "INTERLEAVES", "FRONT_CUTS", "check_arch"]

#: The datapath stages in order, the same in the golden model (one function
#: each) and the RTL (one component each). `scale` runs beside decode and
#: product; `group` sums each group's products exactly, `reduce` is the FP32
#: tree over the groups (and interleaved partials) after `last`.
STAGES = ("decode", "product", "scale", "group", "multiply", "accumulate", "reduce")

#: The named ends of the group family.
ARCHS = ("lane", "fused")

#: The arch with an exact accumulator, and every arch name the CLI takes.
EXACT = "exact"
ARCH_NAMES = (*ARCHS, EXACT)

#: Interleave factors: the accumulation adder has three internal cut points.
INTERLEAVES = (1, 2, 4)



class Cut(enum.StrEnum):
    """A register cut after the stage of the same name. A StrEnum, so a cut
    is also its stage's name (the RTL compares it with STAGES) and reads in
    reports as the CLI spells it."""
    DECODE = "decode"
    PRODUCT = "product"
    SCALE = "scale"
    GROUP = "group"
    MULTIPLY = "multiply"
    ACCUMULATE = "accumulate"


@dataclass(frozen=True)
class TreeCut:
    """A register cut after level `level` of the reduction tree (1-based)."""
    level: int

    def __str__(self) -> str:
        return f"tree:{self.level}"


class Expansion(enum.StrEnum):
    """Where an IF format's INT expansion C enters the MAC."""
    #: S = fl32(fl32(sa * sb) * fl32(C^k)): the paper's.
    SCALE = "scale"
    #: S = sa * sb * w_k, w_k = d^2 C^k an integer (C = n/d); the result is
    #: in units of 1/d^2.
    DEFERRED = "deferred"


#: Optional cuts in front of the accumulator, in datapath order.
FRONT_CUTS = (Cut.DECODE, Cut.PRODUCT, Cut.SCALE, Cut.GROUP)


def check_arch(arch, block_size: int) -> int:
    """`lane`, `fused`, `g<G>`, an int G or `exact` -> the group size G."""
    if arch == "lane":
        return 1
    if arch in ("fused", EXACT):
        return block_size
    if isinstance(arch, str) and re.fullmatch(r"g[1-9][0-9]*", arch):
        group = int(arch[1:])
    elif isinstance(arch, int) and not isinstance(arch, bool):
        group = arch
    else:
        raise InputError(f"unknown arch {arch!r}; expected lane, fused, g<G> "
                         f"(G dividing the block size) or exact")
    if group < 1 or block_size % group:
        raise InputError(f"group size {group} must divide the block size {block_size}")
    return group


@dataclass(frozen=True)
class Config:
    """A checked MAC configuration. Build it with `Config.make`."""
    format: Format
    block_size: int
    group: int
    cuts: tuple[Cut | TreeCut, ...]
    interleave: int = 1
    expansion: Expansion = Expansion.SCALE
    exact: bool = False

    @classmethod
    def make(cls, fmt, arch="fused", block_size=None, pipeline=0, interleave=1,
             expansion="scale") -> "Config":
        """`arch` is lane, fused, g<G>, G or exact; `block_size` defaults to the
        format's own; `pipeline` an int, `max` or cut names (a comma-separated
        string or a sequence); `expansion` scale or deferred (IF formats)."""
        f = get_format(fmt)
        B = check_block_size(f.block_size if block_size is None else block_size)
        G = check_arch(arch, B)
        if isinstance(interleave, bool) or interleave not in INTERLEAVES:
            raise InputError(f"interleave must be one of {', '.join(map(str, INTERLEAVES))}, "
                             f"not {interleave!r}")
        try:
            mode = Expansion(expansion)
        except ValueError:
            raise InputError(f"unknown expansion {expansion!r}; expected one of "
                             f"{', '.join(Expansion)}") from None
        if mode == Expansion.DEFERRED and not f.adaptive:
            raise InputError(f"expansion deferred: {f.name} has no INT expansion; it applies "
                             "to the IF formats")
        exact = arch == EXACT
        if exact and f.scale.power_of_two:
            raise InputError(f"arch exact: {f.name} has E8M0 scales, whose products span "
                             "2^-254 .. 2^254; an exact accumulator for them would need over "
                             "540 bits (the exact arch takes the E4M3-scaled formats)")
        if exact and interleave != 1:
            raise InputError(f"arch exact: interleave must be 1, not {interleave!r} (its "
                             "integer accumulation takes one cycle)")
        bare = cls(f, B, G, (Cut.MULTIPLY,), interleave, mode, exact)
        return cls(f, B, G, bare._resolve(pipeline), interleave, mode, exact)

    def replace(self, **changes) -> "Config":
        """This configuration with other parameters (make's names); in a
        format without an INT expansion, the expansion is `scale`."""
        args = {"fmt": self.format, "arch": self.arch, "block_size": self.block_size,
                "pipeline": self.pipeline, "interleave": self.interleave,
                "expansion": self.expansion}
        args.update(changes)
        if "expansion" not in changes and not get_format(args["fmt"]).adaptive:
            args["expansion"] = Expansion.SCALE
        return Config.make(**args)

    # -- the INT expansion ---------------------------------------------------
    @property
    def class_weights(self) -> tuple[int, int, int] | None:
        """Deferred expansion: the integer weights d^2 C^k of a block pair
        with k = 0, 1, 2 INT blocks (C = n/d); None otherwise."""
        if self.expansion != Expansion.DEFERRED:
            return None
        c = self.format.int.expansion
        n, d = c.numerator, c.denominator
        return d * d, n * d, n * n

    def expansion_f32(self, int_sides: int) -> int:
        """Bits of the binary32 that S is multiplied by for a block pair with
        `int_sides` INT blocks: the format's C^k (scale), or the class
        weight (deferred)."""
        weights = self.class_weights
        if weights is None:
            return self.format.expansion_f32(int_sides)
        return f32_bits(float(weights[int_sides]))

    @property
    def result_unit(self) -> Fraction:
        """What one unit of the MAC's result is worth: 1, or 1/d^2 with a
        deferred expansion (the system multiplies it in with the global
        factors)."""
        weights = self.class_weights
        return Fraction(1) if weights is None else Fraction(1, weights[0])

    # -- names ---------------------------------------------------------------
    @property
    def arch(self) -> str:
        if self.exact:
            return EXACT
        if self.group == 1:
            return "lane"
        return "fused" if self.group == self.block_size else f"g{self.group}"

    @property
    def groups(self) -> int:
        """Accumulators (and multipliers by S): B / G."""
        return self.block_size // self.group

    @property
    def pipeline(self) -> str:
        """The cuts as the CLI spells them: `0` (only the fixed register),
        `max`, or the optional cut names."""
        extra = [str(c) for c in self.cuts if c != Cut.MULTIPLY]
        if not extra:
            return "0"
        return "max" if self.cuts == self.all_cuts and len(self.all_cuts) > 1 else ",".join(extra)

    @property
    def name(self) -> str:
        """The configuration's one name, e.g. ifmac_if4_g4_b16_pmax_i2: the
        Verilog module, and the key of every file, record, test id and proof
        about it."""
        name = f"ifmac_{self.format.name}_{self.arch}_b{self.block_size}"
        spec = self.pipeline
        if spec != "0":
            name += "_pmax" if spec == "max" else "_p_" + "_".join(
                str(c).replace(":", "") for c in self.cuts if c != Cut.MULTIPLY)
        name += f"_i{self.interleave}" if self.interleave > 1 else ""
        return name + ("_deferred" if self.expansion == Expansion.DEFERRED else "")

    def __str__(self) -> str:
        return self.name

    @property
    def tree_cuts(self) -> frozenset[int]:
        """The levels of the reduction tree followed by a register."""
        return frozenset(c.level for c in self.cuts if isinstance(c, TreeCut))

    def same_stream(self, other: "Config") -> bool:
        """Whether beats of `other` are beats of this configuration: the
        same format and block size (arch, cuts, interleave and expansion
        change the arithmetic or timing, not what a beat is)."""
        return self.format == other.format and self.block_size == other.block_size

    @property
    def key(self) -> tuple:
        """Report order: format, block size, group, then deeper pipelines."""
        return (self.format.name, self.block_size, self.group, self.latency, self.name)

    # -- pipeline --------------------------------------------------------------
    @property
    def tree_levels(self) -> int:
        """Levels of the pairwise FP32 tree over groups x interleave partials."""
        return (self.groups * self.interleave - 1).bit_length()

    @cached_property
    def all_cuts(self) -> tuple[Cut | TreeCut, ...]:
        """Every cut this configuration has, in datapath order."""
        front = [c for c in FRONT_CUTS if c != Cut.GROUP or self.group > 1]
        return (*front, Cut.MULTIPLY, Cut.ACCUMULATE,
                *(TreeCut(level) for level in range(1, self.tree_levels)))

    def cut_order(self) -> list[Cut | TreeCut]:
        """The optional cuts in the order an integer pipeline takes them: the
        path through the FP32 adders first (accumulate separates the
        accumulation add from the tree, or in the exact arch from the
        rounding; then each tree chain is split in its middle, longest
        first), then the front (group, product, scale, decode: the
        conversion and multiply by S stay one stage)."""
        order: list[Cut | TreeCut] = []
        if self.tree_levels or self.exact:
            order.append(Cut.ACCUMULATE)
        chains = [(1, self.tree_levels)]          # levels lo..hi without a cut
        while chains:
            chains.sort(key=lambda c: c[0] - c[1])   # longest first
            lo, hi = chains.pop(0)
            if hi <= lo:
                continue
            mid = (lo + hi) // 2
            order.append(TreeCut(mid))
            chains += [(lo, mid), (mid + 1, hi)]
        order += [c for c in (Cut.GROUP, Cut.PRODUCT, Cut.SCALE, Cut.DECODE)
                  if c in self.all_cuts]
        if Cut.ACCUMULATE not in order:
            order.append(Cut.ACCUMULATE)
        return order

    def _resolve(self, spec) -> tuple[Cut | TreeCut, ...]:
        """The cuts `spec` names: the one place a pipeline is parsed."""
        optional = [c for c in self.all_cuts if c != Cut.MULTIPLY]
        names = None
        if isinstance(spec, str) and spec.strip().isdigit():
            spec = int(spec)
        if isinstance(spec, bool):
            pass
        elif isinstance(spec, int):
            if not 0 <= spec <= len(optional):
                raise InputError(f"pipeline {spec}: {self.format.name} {self.arch} "
                                 f"b{self.block_size} i{self.interleave} has 0 to "
                                 f"{len(optional)} optional cuts")
            names = set(self.cut_order()[:spec])
        elif spec == "max":
            names = set(optional)
        elif isinstance(spec, str):
            names = {s.strip() for s in spec.split(",") if s.strip()}
        elif isinstance(spec, (tuple, list, frozenset, set)):
            names = {str(c) for c in spec}
        if names is None:
            raise InputError(f"pipeline must be an integer, max or cut names, not {spec!r}")
        names = {str(n) for n in names}
        spelled = {str(c): c for c in self.all_cuts}
        unknown = sorted(n for n in names if n not in spelled)
        if unknown:
            raise InputError(f"unknown cut {unknown[0]!r} for {self.format.name} {self.arch} "
                             f"b{self.block_size} i{self.interleave}; expected max, a number or "
                             f"some of {', '.join(map(str, self.all_cuts))}")
        chosen = {spelled[n] for n in names}
        return tuple(c for c in self.all_cuts if c in chosen or c == Cut.MULTIPLY)

    @property
    def latency(self) -> int:
        """Cycles from a segment's last beat to its result_valid: the
        accumulator's input register, the result register, every optional cut
        and the interleaved adder's k - 1 internal registers."""
        return 1 + len(self.cuts) + self.interleave - 1
