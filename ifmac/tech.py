"""Technologies: one description per standard-cell library, and finding its files.

Everything the flow needs to know about a library's cells lives in its
`Technology`: where its Liberty file and cell models come from, the cell
that drives the inputs and loads the outputs in timing and power, the pins
of its cells, and the pairs of cells with the same pins and another
function (the netlist mutant of ifmac.formal). Nothing else in ifmac names
a cell of one library: another library is another entry of TECHNOLOGIES.

A library is an explicit path (`--liberty`, or LIBERTY=path), else the
technology's (`--tech`, IHP SG13G2 by default). IHP SG13G2, sky130 fd_sc_hd
and ASAP7 are vendored, compressed, in ifmac/pdk/<tech>/ (Apache-2.0 and
BSD-3-Clause, each with its licence and provenance): their files are
decompressed once into build/liberty/<tech>/, checked against their
checksums, and written as the one Liberty file the whole flow reads (Yosys,
OpenSTA, which cannot read compressed files, the power model and the cell
models): ASAP7's three libraries merged into one, the cells the technology
does not use (`dont_use`, as the OpenROAD flow scripts' platforms set them)
left out. OSU 0.18 (legacy) is fetched once into build/liberty/ from
Debian's archive with `apt-get download` and `dpkg -x` (GPL: fetched, never
committed) where the archive still has it (bookworm). Where a file cannot
be had, the caller gets None and one line saying why, and reports "-" for
what needs it.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import lzma
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ifmac.golden.errors import InputError
from ifmac.tools import BUILD, fetch_debian, given_file

__all__ = ["Technology", "OSU018", "IHP_SG13G2", "SKY130HD", "ASAP7", "TECHNOLOGIES",
           "DEFAULT_TECH", "technology_of", "get_technology", "find_liberty",
           "find_cell_models", "liberty_models", "merge_liberty", "name_power_pin",
           "read_liberty_bytes"]


@dataclass(frozen=True)
class Technology:
    name: str
    title: str
    #: The Liberty file the flow reads, by file name.
    liberty: str
    #: The cell models for gate-level simulation: the PDK's Verilog file, or
    #: None to build them from the Liberty's cell functions (liberty_models).
    cell_models: str | None
    #: Where the files come from: a Debian package and the folder inside it,
    #: or (`sources`) files in ifmac/pdk/<name>/, .gz or .xz, each with the
    #: sha256 of its uncompressed content.
    debian_package: str | None
    package_dir: Path | None
    #: The cell (and its output pin) that drives every data input in timing.
    driver: tuple[str, str]
    #: A top-level output drives `load[2]` inputs `load[1]` of cell `load[0]`
    #: (the SDC's set_load, and the output load in the power model).
    load: tuple[str, str, int]
    #: Output pins of combinational cells and flops, and a flop's data pin.
    output_pins: tuple[str, ...]
    flop_data_pin: str
    #: Cells with the same pins and another function: a one-cell mutant.
    swaps: dict[str, str] = field(default_factory=dict)
    sources: tuple[tuple[str, str], ...] = ()
    #: Cell name patterns (fnmatch) left out of the library.
    dont_use: tuple[str, ...] = ()
    #: A predictive library (no real process): every report says so.
    predictive: bool = False
    #: The supply pin every internal_power group is made to name, where the
    #: library names none (sky130: OpenSTA 2.0.17 counts no internal power
    #: of a group without one).
    power_pin: str | None = None
    #: Said when the library cannot be had.
    note: str = ""

    @property
    def vendored(self) -> bool:
        return bool(self.sources)

    @property
    def label(self) -> str:
        """The title as reports print it."""
        return self.title + (" (predictive, no real process)" if self.predictive else "")


def _pairs(*pairs: tuple[str, str]) -> dict[str, str]:
    return {a: b for x, y in pairs for a, b in ((x, y), (y, x))}


#: OSU 0.18 um (Oklahoma State University's library for TSMC 0.18 um), from
#: Debian's qflow-tech-osu018.
OSU018 = Technology(
    name="osu018", title="OSU 0.18 um",
    liberty="osu018_stdcells.lib", cell_models="osu018_stdcells.v",
    debian_package="qflow-tech-osu018", package_dir=Path("usr/share/qflow/tech/osu018"),
    driver=("INVX1", "Y"), load=("INVX1", "A", 4), output_pins=("Y", "Q"), flop_data_pin="D",
    swaps=_pairs(("NAND2X1", "NOR2X1"), ("AND2X1", "OR2X1"), ("AND2X2", "OR2X2"),
                 ("XOR2X1", "XNOR2X1"), ("INVX1", "BUFX2"), ("AOI21X1", "OAI21X1"),
                 ("AOI22X1", "OAI22X1"), ("NAND3X1", "NOR3X1")),
    note=("OSU 0.18 is legacy: Debian's qflow-tech-osu018 exists only in bookworm, not in "
          "trixie or sid; give --liberty FILE (LIBERTY=path) or another --tech"))

#: IHP SG13G2 (IHP's open 130 nm BiCMOS process), typical corner 1.20 V
#: 25 C, vendored. It has no flop without reset: Yosys maps to dfrbpq with
#: the reset tied inactive.
IHP_SG13G2 = Technology(
    name="ihp-sg13g2", title="IHP SG13G2 130 nm",
    liberty="sg13g2_stdcell_typ_1p20V_25C.lib", cell_models=None,
    debian_package=None, package_dir=None,
    driver=("sg13g2_inv_1", "Y"), load=("sg13g2_inv_1", "A", 4), output_pins=("Y", "Q"),
    flop_data_pin="D",
    # (xor2/xnor2 and inv/buf are no pairs here: their outputs are X and Y.)
    swaps=_pairs(("sg13g2_nand2_1", "sg13g2_nor2_1"), ("sg13g2_and2_1", "sg13g2_or2_1"),
                 ("sg13g2_a21oi_1", "sg13g2_o21ai_1"), ("sg13g2_nand3_1", "sg13g2_nor3_1")),
    sources=(("sg13g2_stdcell_typ_1p20V_25C.lib.gz",
              "968b0cfdcefc49a88d9a5c48874769eaad9aba3509e1240b5e14a821bb07a3c4"),))


def _sky(cell: str) -> str:
    return f"sky130_fd_sc_hd__{cell}"


#: SkyWater sky130 fd_sc_hd (high density), typical corner 1.80 V 25 C,
#: vendored (xz); its low-power-flow (isolation, keeper, level-shifter) and
#: probe cells are left out.
SKY130HD = Technology(
    name="sky130hd", title="SkyWater sky130 fd_sc_hd 130 nm",
    liberty="sky130_fd_sc_hd__tt_025C_1v80.lib", cell_models=None,
    debian_package=None, package_dir=None,
    driver=(_sky("inv_1"), "Y"), load=(_sky("inv_1"), "A", 4), output_pins=("X", "Y", "Q"),
    flop_data_pin="D",
    swaps=_pairs((_sky("nand2_1"), _sky("nor2_1")), (_sky("and2_1"), _sky("or2_1")),
                 (_sky("a21oi_1"), _sky("o21ai_1")), (_sky("nand3_1"), _sky("nor3_1")),
                 (_sky("a31oi_1"), _sky("o31ai_1")), (_sky("a22o_2"), _sky("o22a_2"))),
    sources=(("sky130_fd_sc_hd__tt_025C_1v80.lib.xz",
              "e66aab4e0a3eef8d0b13eb5b75aaadb725ba78b032203342eb1e419a2c111baf"),),
    dont_use=("*__lpflow_*", "*__probe*"), power_pin="VPWR")


def _asap7(cell: str) -> str:
    return f"{cell}_ASAP7_75t_R"


#: ASAP7 (a 7 nm predictive library: no real process), RVT, typical
#: corner 0.70 V 25 C, vendored: its SIMPLE, INVBUF and SEQ libraries merged
#: into one, the fractional-drive, scan and clock-gating cells left out. Its
#: small flops have only an inverted output (QN).
ASAP7 = Technology(
    name="asap7", title="ASAP7 7 nm",
    liberty="asap7sc7p5t_RVT_TT.lib", cell_models=None,
    debian_package=None, package_dir=None,
    driver=(_asap7("INVx1"), "Y"), load=(_asap7("INVx1"), "A", 4),
    output_pins=("Y", "Q", "QN"), flop_data_pin="D",
    swaps=_pairs((_asap7("NAND2x1"), _asap7("NOR2x1")), (_asap7("AND2x2"), _asap7("OR2x2")),
                 (_asap7("XOR2x1"), _asap7("XNOR2x1")), (_asap7("INVx1"), _asap7("BUFx2")),
                 (_asap7("NAND3x1"), _asap7("NOR3x1"))),
    sources=(("asap7sc7p5t_SIMPLE_RVT_TT_nldm_211120.lib.gz",
              "fa92e6ab1481810602811b1eea54bc016a341f11fb5188d7512c026599adf038"),
             ("asap7sc7p5t_INVBUF_RVT_TT_nldm_220122.lib.gz",
              "a4ceb32e418e1aac8667e28fbd8e9e46baf520180be4db075598a4d7c681a56e"),
             ("asap7sc7p5t_SEQ_RVT_TT_nldm_220123.lib.gz",
              "57a0b403485b99ebd676942af4673ac086b86c7c75fbdc3e5c0038501dd22ba3")),
    dont_use=("*x1p*_ASAP7*", "*xp*_ASAP7*", "SDF*", "ICG*"), predictive=True)

TECHNOLOGIES = {t.name: t for t in (IHP_SG13G2, SKY130HD, ASAP7, OSU018)}
DEFAULT_TECH = IHP_SG13G2


def get_technology(name: str) -> Technology:
    """The technology called `name`; InputError naming the known ones."""
    try:
        return TECHNOLOGIES[name]
    except KeyError:
        raise InputError(f"unknown technology {name!r}; expected one of "
                         f"{', '.join(TECHNOLOGIES)}") from None


def technology_of(liberty: Path) -> Technology:
    """The technology a Liberty file belongs to (by its file name); a user's
    own library is described as the default technology, whose driver and
    load cells the power model replaces by the library's smallest inverter
    when the library lacks them."""
    for tech in TECHNOLOGIES.values():
        if Path(liberty).name == tech.liberty:
            return tech
    return DEFAULT_TECH


def _fetched(tech: Technology, cache: Path) -> tuple[bool, str]:
    """The technology's library (and cell models) in `cache`: fetched from
    Debian, or decompressed from ifmac/pdk/, if absent."""
    if tech.vendored:
        return _unpacked(tech, cache)
    if (cache / tech.liberty).is_file() and (cache / tech.cell_models).is_file():
        return True, f"{tech.debian_package} in {cache}"
    return fetch_debian(tech.debian_package,
                        {n: tech.package_dir / n for n in (tech.liberty, tech.cell_models)},
                        cache)


def _decompressed(tech: Technology, name: str, checksum: str) -> bytes:
    """One vendored file of `tech`, decompressed and checked."""
    with resources.files("ifmac").joinpath("pdk", tech.name, name).open("rb") as fh:
        raw = fh.read()
    data = lzma.decompress(raw) if name.endswith(".xz") else gzip.decompress(raw)
    if hashlib.sha256(data).hexdigest() != checksum:
        raise InputError(f"the vendored ifmac/pdk/{tech.name}/{name} does not match its checksum")
    return data


def _unpacked(tech: Technology, cache: Path) -> tuple[bool, str]:
    """The technology's Liberty file in `cache`, made from its vendored
    files (merged, its dont_use cells left out) unless a copy made from the
    same files and rules is there."""
    path, stamp = cache / tech.liberty, cache / (tech.liberty + ".made-from")
    key = "\n".join([*(f"{n} {c}" for n, c in tech.sources), *tech.dont_use,
                     f"power_pin {tech.power_pin}"]) + "\n"
    if (path.is_file() and stamp.is_file()
            and stamp.read_text() == key + hashlib.sha256(path.read_bytes()).hexdigest()):
        return True, f"vendored in ifmac/pdk/{tech.name}, unpacked in {cache}"
    try:
        texts = [_decompressed(tech, n, c) for n, c in tech.sources]
    except InputError as e:
        return False, str(e)
    data = (texts[0] if len(texts) == 1 and not tech.dont_use
            else merge_liberty([t.decode() for t in texts], tech.dont_use).encode())
    if tech.power_pin:
        data = name_power_pin(data.decode(), tech.power_pin).encode()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp.write_text(key + hashlib.sha256(data).hexdigest())
    return True, f"vendored in ifmac/pdk/{tech.name}, unpacked into {cache}"


#: Comments, strings and braces: enough of Liberty's syntax to find groups.
_TOKEN = re.compile(r'/\*.*?\*/|"(?:[^"\\]|\\.)*"|[{}]', re.S)
_HEAD = re.compile(r'(\w+)\s*\(\s*"?([^")]*)"?\s*\)$')
_UNITS = ("time_unit", "voltage_unit", "current_unit", "pulling_resistance_unit",
          "leakage_power_unit", "capacitive_load_unit")


def _top_groups(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, name, start, end) of every group directly inside the library
    group of a Liberty text, from the start of its header's line to its
    closing brace."""
    groups, depth, start, head = [], 0, 0, ("", "")
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok == "{":
            depth += 1
            if depth == 2:
                start = text.rfind("\n", 0, m.start()) + 1
                found = _HEAD.search(text[start:m.start()].strip())
                head = found.groups() if found else ("", "")
        elif tok == "}":
            if depth == 2:
                groups.append((*head, start, m.end()))
            depth -= 1
    return groups


def _unit_lines(text: str) -> list[str]:
    return [" ".join(m.group().split()) for u in _UNITS
            for m in re.finditer(rf"^\s*{u}\b.*$", text, re.M)]


def name_power_pin(text: str, pin: str) -> str:
    """Every internal_power group of `text` naming `pin` as its supply;
    ValueError if some group names one already."""
    if re.search(r"internal_power\s*\(\s*\)\s*\{[^{}]*related_pg_pin", text):
        raise ValueError("the library's internal_power groups name their supply pins already")
    return re.sub(r"(internal_power\s*\(\s*\)\s*\{)", rf'\1\n  related_pg_pin : "{pin}";', text)


def merge_liberty(texts: list[str], dont_use: tuple[str, ...] = ()) -> str:
    """One Liberty library from `texts` (libraries of one technology in the
    same units): the first's header, the groups of the others' headers that
    it lacks (templates), and every cell whose name matches no `dont_use`
    pattern. ValueError when the units differ or two templates of one name
    differ."""
    first = _top_groups(texts[0])
    cell_starts = [a for kind, _, a, _ in first if kind == "cell"]
    head_end = cell_starts[0] if cell_starts else first[-1][3]
    seen = {" ".join(texts[0][a:b].split()) for k, _, a, b in first if k != "cell"}
    templates = {(k, n): " ".join(texts[0][a:b].split()) for k, n, a, b in first
                 if k.endswith("_template")}
    extra, cells = [], []
    for i, text in enumerate(texts):
        if _unit_lines(text) != _unit_lines(texts[0]):
            raise ValueError(f"library {i + 1} has other units than the first: "
                             f"{_unit_lines(text)} against {_unit_lines(texts[0])}")
        for kind, name, a, b in (first if i == 0 else _top_groups(text)):
            body = text[a:b]
            if kind == "cell":
                if not any(fnmatch.fnmatchcase(name, p) for p in dont_use):
                    cells.append(body)
                continue
            flat = " ".join(body.split())
            if i == 0 or flat in seen:
                continue
            if kind.endswith("_template") and templates.setdefault((kind, name), flat) != flat:
                raise ValueError(f"library {i + 1}'s {kind} {name} differs from an earlier one")
            seen.add(flat)
            extra.append(body)
    return "".join([texts[0][:head_end], *(g + "\n" for g in extra),
                    *(c + "\n" for c in cells), "}\n"])


def find_liberty(explicit: str | None = None, tech: Technology = DEFAULT_TECH,
                 cache: Path = BUILD / "liberty") -> tuple[Path | None, str]:
    """(path or None, one line saying where it came from or why there is none)."""
    path = given_file("LIBERTY", explicit, "Liberty file")
    if path is not None:
        return path, f"Liberty library {path}"
    if tech.vendored:
        cache = cache / tech.name
    ok, how = _fetched(tech, cache)
    if not ok:
        return None, (f"no Liberty library ({how}; {tech.note or 'give LIBERTY=path'}): "
                      "reporting generic CMOS figures only")
    return (cache / tech.liberty).resolve(), f"Liberty library {tech.title} ({how})"


def find_cell_models(liberty: Path, cache: Path = BUILD / "liberty") -> tuple[Path | None, str]:
    """Verilog models of `liberty`'s cells: CELL_MODELS=path, else its
    technology's own (OSU 0.18's), else models built from the Liberty."""
    path = given_file("CELL_MODELS", None, "cell models")
    if path is not None:
        return path, f"cell models {path}"
    tech = technology_of(liberty)
    if Path(liberty).name != tech.liberty or tech.cell_models is None:
        return liberty_models(liberty, cache / "models")
    ok, how = _fetched(tech, cache)
    if not ok:
        return None, f"no cell models ({how}; give CELL_MODELS=path)"
    return (cache / tech.cell_models).resolve(), f"cell models {tech.cell_models} ({how})"


#: Yosys: a Verilog model of every cell from its Liberty `function` and `ff`
#: / `latch` groups (cells with neither, such as fillers, are left out).
_MODELS_SCRIPT = """read_liberty -ignore_miss_func cells.lib
proc
opt_clean
write_verilog -noattr models.v
"""


def read_liberty_bytes(path) -> bytes:
    """A Liberty file's content, decompressed when it is a .lib.gz or .lib.xz."""
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        return gzip.decompress(data)
    return lzma.decompress(data) if str(path).endswith(".xz") else data


def liberty_models(liberty: Path, cache: Path) -> tuple[Path | None, str]:
    """Cell models built by Yosys from `liberty`'s own cell functions, once
    per library content, in `cache`: gate-level simulation with any library
    the same way (IHP SG13G2's own Verilog models use sequential UDPs that
    Verilator simulates wrongly)."""
    from ifmac.tools import run_yosys, yosys_tool
    text = read_liberty_bytes(liberty)
    work = Path(cache) / hashlib.sha256(text).hexdigest()[:16]
    models = work / "models.v"
    if not models.is_file():
        work.mkdir(parents=True, exist_ok=True)
        (work / "cells.lib").write_bytes(text)
        (work / "models.ys").write_text(_MODELS_SCRIPT)
        try:
            run_yosys(work, yosys_tool(), "models.ys", "models.log")
        except RuntimeError as e:
            return None, f"no cell models: Yosys could not build them from {liberty}: {e}"
        (work / "cells.lib").unlink()
    return models.resolve(), f"cell models built from {Path(liberty).name} by Yosys ({models})"
