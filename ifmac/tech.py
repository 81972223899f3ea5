"""Technologies: one description per standard-cell library, and finding its files.

Everything the flow needs to know about a library's cells lives in its
`Technology`: where its Liberty file and cell models come from, the cell
that drives the inputs and loads the outputs in timing and power, the pins
of its cells, and the pairs of cells with the same pins and another
function (the netlist mutant of ifmac.formal). Nothing else in ifmac names
a cell of one library: another library is another entry of TECHNOLOGIES.

A library is an explicit path (`--liberty`, or LIBERTY=path), else the
technology's (`--tech`): OSU 0.18 is fetched once into build/liberty/ from
Debian's archive with `apt-get download` and `dpkg -x` (GPL: fetched, never
committed); IHP SG13G2 is vendored, compressed, in ifmac/pdk/ (Apache-2.0,
with its licence and provenance) and decompressed once into
build/liberty/<tech>/ for OpenSTA, which cannot read `.lib.gz`. Where a file
cannot be had, the caller gets None and one line saying why, and reports
"-" for what needs it.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ifmac.golden.errors import InputError
from ifmac.tools import BUILD, fetch_debian, given_file

__all__ = ["Technology", "OSU018", "IHP_SG13G2", "TECHNOLOGIES", "DEFAULT_TECH",
           "technology_of", "get_technology", "find_liberty", "find_cell_models",
           "liberty_models"]


@dataclass(frozen=True)
class Technology:
    name: str
    title: str
    #: The Liberty file and the Verilog cell models, by file name.
    liberty: str
    #: The cell models for gate-level simulation: the PDK's Verilog file, or
    #: None to build them from the Liberty's cell functions (liberty_models).
    cell_models: str | None
    #: Where the files come from: a Debian package and the folder inside it,
    #: or (`vendored`) ifmac/pdk/<name>/<liberty>.gz, whose uncompressed
    #: content has the sha256 `checksum`.
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
    vendored: bool = False
    checksum: str | None = None


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
                 ("AOI22X1", "OAI22X1"), ("NAND3X1", "NOR3X1")))

#: IHP SG13G2 (IHP's open 130 nm BiCMOS process), typical corner 1.20 V
#: 25 C, vendored. It has no flop without reset: Yosys maps to dfrbpq with
#: the reset tied inactive.
IHP_SG13G2 = Technology(
    name="ihp-sg13g2", title="IHP SG13G2 130 nm",
    liberty="sg13g2_stdcell_typ_1p20V_25C.lib", cell_models=None,
    debian_package=None, package_dir=None,
    driver=("sg13g2_inv_1", "Y"), load=("sg13g2_inv_1", "A", 4), output_pins=("Y", "Q"),
    flop_data_pin="D",
    swaps=_pairs(("sg13g2_nand2_1", "sg13g2_nor2_1"), ("sg13g2_and2_1", "sg13g2_or2_1"),
                 ("sg13g2_xor2_1", "sg13g2_xnor2_1"), ("sg13g2_inv_1", "sg13g2_buf_1"),
                 ("sg13g2_a21oi_1", "sg13g2_o21ai_1"), ("sg13g2_nand3_1", "sg13g2_nor3_1")),
    vendored=True, checksum="968b0cfdcefc49a88d9a5c48874769eaad9aba3509e1240b5e14a821bb07a3c4")

TECHNOLOGIES = {t.name: t for t in (OSU018, IHP_SG13G2)}
DEFAULT_TECH = OSU018


def get_technology(name: str) -> Technology:
    """The technology called `name`; InputError naming the known ones."""
    try:
        return TECHNOLOGIES[name]
    except KeyError:
        raise InputError(f"unknown technology {name!r}; expected one of "
                         f"{', '.join(TECHNOLOGIES)}") from None


def technology_of(liberty: Path) -> Technology:
    """The technology a Liberty file belongs to (by its file name); a user's
    own library is described as the default technology's cells, which the
    flow names (driver, load), must then exist in it."""
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


def _unpacked(tech: Technology, cache: Path) -> tuple[bool, str]:
    """The vendored library decompressed into `cache`, checked against its
    checksum (a stale or damaged copy is written again)."""
    path = cache / tech.liberty
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == tech.checksum:
        return True, f"vendored in ifmac/pdk/{tech.name}, unpacked in {cache}"
    source = resources.files("ifmac").joinpath("pdk", tech.name, tech.liberty + ".gz")
    with source.open("rb") as fh:
        data = gzip.decompress(fh.read())
    if hashlib.sha256(data).hexdigest() != tech.checksum:
        return False, f"the vendored {tech.liberty}.gz does not match its checksum"
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True, f"vendored in ifmac/pdk/{tech.name}, unpacked into {cache}"


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
        return None, (f"no Liberty library ({how}; give LIBERTY=path): "
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
    """A Liberty file's content, decompressed when it is a .lib.gz."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if str(path).endswith(".gz") else data


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
