"""Power of a mapped netlist from the library's own tables and real switching
activity, the way signoff power tools compute it (see docs/signoff.md).

Inputs: the Liberty library, the netlist's connectivity (Yosys's JSON of the
Liberty-mapped netlist: every cell with the nets on its pins) and the
toggle counts of every net from a gate-level simulation (Verilator SAIF).

* switching: 1/2 C V^2 per toggle of a net, C the sum of the input-pin
  capacitances that the net drives (plus the output load on a top-level
  output). The library has no wire-load model, so there is no wire
  capacitance.
* internal: per toggle of a cell's output, the mean of the rise and fall
  energies of its `internal_power` tables (averaged over the related input
  pins), looked up at the net's load C and a nominal input slew; per toggle
  of an input pin with its own tables (a flip-flop's clock), the mean of
  their rise and fall energies at that slew.
* leakage: each cell's `cell_leakage_power`.

Energies are in pJ (the library's 1 pF x 1 V^2), power in mW at the clock
the activity is spread over (pJ per ns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ifmac.tech import Technology, read_liberty_bytes, technology_of
from ifmac.tools import read_yosys_json

__all__ = ["Library", "Activity", "Power", "load_library", "read_saif", "power",
           "NOMINAL_SLEW_NS"]

#: The input transition at which the internal-energy tables are read (ns):
#: within the tables' range (0.06 to 1.8 ns in OSU 0.18), near its fast end.
NOMINAL_SLEW_NS = 0.1

_CAP_UNITS = {"pf": 1.0, "ff": 1e-3}
_LEAK_UNITS = {"1nW": 1e-6, "1uW": 1e-3, "1mW": 1.0, "1pW": 1e-9}   # to mW


@dataclass
class Table:
    """An energy table: 1-D over slew, or 2-D over (load, slew)."""
    loads: np.ndarray | None
    slews: np.ndarray
    values: np.ndarray

    def at(self, load: float, slew: float) -> float:
        def axis(xs, x):
            i = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2))
            return i, (x - xs[i]) / (xs[i + 1] - xs[i])
        j, v = axis(self.slews, slew)
        if self.loads is None:
            row = self.values.reshape(-1)
            return float(row[j] + v * (row[j + 1] - row[j]))
        i, u = axis(self.loads, load)
        q = self.values
        # Bilinear inside the table, linear beyond its edges.
        return float((1 - u) * ((1 - v) * q[i, j] + v * q[i, j + 1])
                     + u * ((1 - v) * q[i + 1, j] + v * q[i + 1, j + 1]))


@dataclass
class Cell:
    name: str
    leakage_mw: float
    inputs: dict[str, float] = field(default_factory=dict)            # pin -> pF
    outputs: dict[str, list[tuple[Table, Table]]] = field(default_factory=dict)
    input_tables: dict[str, tuple[Table, Table]] = field(default_factory=dict)

    def output_energy(self, pin: str, load: float, slew: float) -> float:
        """Mean internal energy (pJ) of one toggle of output `pin`."""
        arcs = self.outputs[pin]
        if not arcs:
            return 0.0
        return float(np.mean([(r.at(load, slew) + f.at(load, slew)) / 2 for r, f in arcs]))

    def input_energy(self, pin: str, slew: float) -> float:
        if pin not in self.input_tables:
            return 0.0
        r, f = self.input_tables[pin]
        return (r.at(0.0, slew) + f.at(0.0, slew)) / 2


@dataclass
class Library:
    name: str
    voltage: float
    cells: dict[str, Cell]
    tech: Technology

    def output_load(self) -> float:
        """pF on a top-level output: the technology's `load` (also the SDC's
        set_load for timing)."""
        cell, pin, n = self.tech.load
        return n * self.cells[cell].inputs[pin]


@dataclass(frozen=True)
class _Template:
    """A lu_table_template / power_lut_template: the table's variables and
    the indices a table of it uses unless it gives its own."""
    variables: tuple[str, ...]
    indices: dict


def _index(group, template: _Template | None, name: str) -> np.ndarray:
    """A table's index_1 or index_2: its own, else its template's (IHP's
    tables leave them to the template)."""
    if group[name] is not None:
        return np.array(group.get_array(name), dtype=float).reshape(-1)
    if template is not None and template.indices.get(name) is not None:
        return template.indices[name]
    raise ValueError(f"a {group.group_name} table has no {name}, nor has its template")


def _table(group, templates: dict) -> Table:
    template = templates.get(group.args[0] if group.args else "")
    variables = template.variables if template else ()
    values = np.array(group.get_array("values"), dtype=float)
    if values.size == 1:
        # Liberty's built-in `scalar` template: one value, no index.
        return Table(None, np.array([0.0, 1.0]), np.repeat(values.reshape(-1), 2))
    first = _index(group, template, "index_1")
    if values.shape[0] == 1 or len(variables) < 2:
        return Table(None, first, values.reshape(-1))
    second = _index(group, template, "index_2")
    if variables[0].startswith("input_"):        # (slew, load): put load first
        return Table(second, first, values.T)
    return Table(first, second, values)


@lru_cache(maxsize=4)
def load_library(path: str) -> Library:
    from liberty.parser import parse_liberty
    lib = parse_liberty(read_liberty_bytes(path).decode())
    cap = lib["capacitive_load_unit"]
    cap_unit = str(cap[1]).strip('"').lower() if isinstance(cap, list) else ""
    leak_unit = str(lib["leakage_power_unit"]).strip('"')
    volt_unit = str(lib["voltage_unit"]).strip('"')
    if cap_unit not in _CAP_UNITS or leak_unit not in _LEAK_UNITS or volt_unit != "1V":
        raise ValueError(f"{path}: units {cap!r}, {leak_unit!r}, {volt_unit!r}; the power "
                         "model reads pF or fF, 1V and nW, uW, mW or pW")
    cap_scale = float(cap[0]) * _CAP_UNITS[cap_unit]
    templates = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for t in lib.get_groups(kind):
            templates[t.args[0]] = _Template(
                tuple(str(t[v]) for v in ("variable_1", "variable_2") if t[v] is not None),
                {i: np.array(t.get_array(i), dtype=float).reshape(-1)
                 for i in ("index_1", "index_2") if t[i] is not None})
    cells, inverters = {}, []
    for c in lib.get_groups("cell"):
        cell = Cell(c.args[0], float(c["cell_leakage_power"] or 0.0) * _LEAK_UNITS[leak_unit])
        functions = {}
        for p in c.get_groups("pin"):
            pin = str(p.args[0]).strip('"')
            tables = p.get_groups("internal_power")
            if p["function"] is not None:
                functions[pin] = str(p["function"]).strip('"').replace(" ", "")
            if p["direction"] == "input":
                cell.inputs[pin] = float(p["capacitance"]) * cap_scale
                if tables:
                    g = tables[0]
                    cell.input_tables[pin] = tuple(_table(g.get_groups(k)[0], templates)
                                                   for k in ("rise_power", "fall_power"))
            elif p["direction"] == "output":
                cell.outputs[pin] = [tuple(_table(g.get_groups(k)[0], templates)
                                           for k in ("rise_power", "fall_power"))
                                     for g in tables if g.get_groups("rise_power")]
        cells[cell.name] = cell
        if len(cell.inputs) == 1 and len(cell.outputs) == 1:
            (i,), (o,) = cell.inputs, cell.outputs
            if functions.get(o) in (f"!{i}", f"(!{i})", f"{i}'", f"!({i})"):
                inverters.append((cell.inputs[i], cell.name, i, o))
    tech = technology_of(Path(path))
    if tech.driver[0] not in cells:
        # A library of no known technology: its smallest inverter drives the
        # inputs and loads the outputs (the SDC and the power model).
        if not inverters:
            raise ValueError(f"{path}: no inverter cell to drive the inputs and load the "
                             "outputs with")
        _, inv, i, o = min(inverters)
        tech = replace(tech, name=Path(path).name, title=str(lib.args[0]), driver=(inv, o),
                       load=(inv, i, tech.load[2]), swaps={})
    return Library(str(lib.args[0]), float(lib["nom_voltage"]), cells, tech)


# --------------------------------------------------------------------------
# Activity
# --------------------------------------------------------------------------

@dataclass
class Activity:
    """Toggle counts of the nets of one module over `cycles` clock cycles."""
    cycles: float
    toggles: dict[str, int]


_NET = re.compile(r"^\s*\((\S+) \(T0 \d+\) \(T1 \d+\) .*\(TC (\d+)\)")
_DURATION = re.compile(r"^\(DURATION (\d+)\)", re.M)


def read_saif(path: Path, scope: str, time_per_cycle: int = 10) -> Activity:
    """Toggle counts of the nets in instance `scope` (the last INSTANCE of
    that name) of a Verilator SAIF file and in the instances below it, named
    by their path from `scope` ("net", "inst.net"); `time_per_cycle` is the
    harness's time step per clock cycle."""
    text = Path(path).read_text()
    m = _DURATION.search(text)
    if m is None:
        raise ValueError(f"{path}: no DURATION; not a SAIF file")
    start = text.rfind(f"(INSTANCE {scope}\n")
    if start < 0:
        raise ValueError(f"{path}: no instance {scope!r}")
    toggles = {}
    inside: list[str] = []         # instances below `scope`; "(NET" opens one too
    for line in text[start:].splitlines()[1:]:
        head = line.strip()
        if head.startswith("(INSTANCE "):
            inside.append(head.split()[1].replace("\\", "") + ".")
        elif head == "(NET":
            inside.append("")
        elif head == ")":
            if not inside:
                break                  # the end of `scope`
            inside.pop()
        elif n := _NET.match(line):
            toggles["".join(inside) + n.group(1).replace("\\", "")] = int(n.group(2))
    return Activity(int(m.group(1)) / time_per_cycle, toggles)


# --------------------------------------------------------------------------
# Power
# --------------------------------------------------------------------------

@dataclass
class Power:
    clock_ns: float
    cycles: float
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    #: (internal, switching, leakage) mW per part of the design: a top-level
    #: instance of a submodule is a part (its name), the top's own cells the
    #: part "" (the whole of a flat netlist).
    parts: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def total_mw(self) -> float:
        return self.internal_mw + self.switching_mw + self.leakage_mw

    def energy_pj(self) -> float:
        """Energy of the whole run (pJ)."""
        return self.total_mw * self.cycles * self.clock_ns


def _net_names(module: dict) -> dict[int, str]:
    """JSON bit id -> the net name the simulator traces it by."""
    names = {}
    for name, net in sorted(module["netnames"].items(), key=lambda kv: kv[1]["hide_name"]):
        bits = net["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int):
                names.setdefault(b, name if len(bits) == 1 else f"{name}[{i}]")
    return names


def _leaf_cells(modules: dict, name: str, prefix: str = "", ports: dict | None = None,
                part: str = ""):
    """(part, instance, cell type, {pin: net}) of every library cell in
    module `name` and below it, the nets named as in the SAIF (the name in
    the outermost module the net reaches; None for a constant)."""
    module = modules[name]
    names = _net_names(module)
    ports = ports or {}

    def net(bit):
        if not isinstance(bit, int):
            return None
        return ports[bit] if bit in ports else prefix + names.get(bit, f"bit {bit}")

    for inst, c in module["cells"].items():
        if c["type"] in modules:
            sub = modules[c["type"]]
            inner = {b: net(outer) for port, p in sub["ports"].items()
                     for b, outer in zip(p["bits"], c["connections"][port])
                     if isinstance(b, int)}
            yield from _leaf_cells(modules, c["type"], f"{prefix}{inst}.", inner,
                                   part or inst)
        else:
            yield part, prefix + inst, c["type"], {pin: net(bits[0]) for pin, bits
                                                   in c["connections"].items()}


def power(library: Library, netlist: Path, top: str, activity: Activity,
          clock_ns: float, slew_ns: float = NOMINAL_SLEW_NS) -> Power:
    """Average power of `top` in `netlist` (Yosys JSON) under `activity`,
    in total and per part (Power.parts): a net's switching energy belongs
    to the part of the cell that drives it (the top's own part for a
    top-level input)."""
    modules = read_yosys_json(netlist)
    module = modules[top]
    load: dict[str, float] = {}
    driver_part: dict[str, str] = {}
    internal_at: list[tuple[str, object, str, str]] = []     # part, cell, pin, net
    parts: dict[str, list[float]] = {}
    for part, inst, kind, pins in _leaf_cells(modules, top):
        cell = library.cells.get(kind)
        if cell is None:
            raise ValueError(f"{netlist}: cell {inst} is a {kind}, which "
                             f"{library.name} does not have")
        parts.setdefault(part, [0.0, 0.0, 0.0])[2] += cell.leakage_mw
        for pin, net in pins.items():
            if net is None:
                continue                    # tied to a constant: never toggles
            if pin in cell.inputs:
                load[net] = load.get(net, 0.0) + cell.inputs[pin]
            elif pin in cell.outputs:
                driver_part[net] = part
            else:
                continue
            internal_at.append((part, cell, pin, net))
    top_names = _net_names(module)
    for port in module["ports"].values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    net = top_names[bit]
                    load[net] = load.get(net, 0.0) + library.output_load()

    missing = sorted({net for *_, net in internal_at if net not in activity.toggles})
    if missing:
        raise ValueError(f"no toggle count for {len(missing)} nets of {top} "
                         f"(e.g. {', '.join(missing[:3])}); the SAIF is not of this netlist")
    window = activity.cycles * clock_ns           # ns: pJ / ns = mW
    tc = activity.toggles

    # A lane netlist has 10^5 cells but few distinct (cell, pin, load)
    # triples: the table look-ups are made once per triple.
    energies: dict[tuple[str, str, float], float] = {}
    for part, cell, pin, net in internal_at:
        c = load.get(net, 0.0)
        e = energies.get((cell.name, pin, c))
        if e is None:
            e = energies[cell.name, pin, c] = (
                cell.output_energy(pin, c, slew_ns) if pin in cell.outputs
                else cell.input_energy(pin, slew_ns))
        parts.setdefault(part, [0.0, 0.0, 0.0])[0] += tc[net] * e / window
    v2 = library.voltage ** 2
    for net, c in load.items():
        if net in tc:
            parts.setdefault(driver_part.get(net, ""), [0.0, 0.0, 0.0])[1] += (
                0.5 * c * v2 * tc[net] / window)
    total = [sum(p[i] for p in parts.values()) for i in range(3)]
    return Power(clock_ns, activity.cycles, *total,
                 parts={k: tuple(v) for k, v in parts.items()})
