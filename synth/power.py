"""Power of a mapped netlist from the library's own tables and real switching
activity, the way signoff power tools compute it (see docs/signoff.md).

Inputs: the Liberty library, the netlist's connectivity (Yosys's JSON of the
Liberty-mapped netlist: every cell with the nets on its pins) and the
toggle counts of every net from a gate-level simulation (Verilator SAIF).

* switching: 1/2 C V^2 per toggle of a net, C the sum of the input-pin
  capacitances that the net drives (plus the output load on a top-level
  output) and, where the library names a default wire-load model, the
  wire's capacitance for the net's fanout (as OpenSTA estimates it:
  fanout_length interpolated, extrapolated beyond its ends with `slope`).
* internal: per toggle of a cell's output, the mean of the rise and fall
  energies of its `internal_power` tables (averaged over the related input
  pins), looked up at the net's load C and a nominal input slew; per toggle
  of an input pin with its own tables (a flip-flop's clock), the mean of
  their rise and fall energies at that slew.
* leakage: each cell's `cell_leakage_power`, else the mean over its states
  of its state-dependent `leakage_power` groups (ASAP7 has only those).

Every table is converted on reading to ns, pF and pJ (a library in ps and fF,
such as ASAP7, has its indices and energies scaled); power is in mW at the
clock the activity is spread over (pJ per ns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ifmac.tech import Technology, read_liberty_bytes, technology_of
from ifmac.tools import read_yosys_json

__all__ = ["Library", "Cell", "PowerGroup", "Table", "WireLoad", "Activity", "Power",
           "netlist_loads", "load_library", "read_saif", "power",
           "NOMINAL_SLEW_NS"]

#: The input transition at which the internal-energy tables are read (ns):
#: within the tables' range (0.06 to 1.8 ns in OSU 0.18), near its fast end.
NOMINAL_SLEW_NS = 0.1

_CAP_UNITS = {"pf": 1.0, "ff": 1e-3}
_TIME_UNITS = {"1ns": 1.0, "1ps": 1e-3}
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


@dataclass(frozen=True)
class PowerGroup:
    """One internal_power group of a cell's pin: the energy (pJ) of a rise
    and of a fall of `pin`, caused by `related` (None: the pin itself), in
    the state `when` (None: any), drawn from supply pin `supply` (None: the
    cell's); `grounded` when that pin is at 0 V (ASAP7 gives each group
    once for VDD and once for VSS: the energy is counted once, from VDD)."""
    pin: str
    related: str | None
    when: str | None
    rise: Table
    fall: Table
    supply: str | None = None
    grounded: bool = False

    def energy(self, load: float, slew: float) -> float:
        return (self.rise.at(load, slew) + self.fall.at(load, slew)) / 2


#: The energy of a transition a group gives no table for.
_ZERO = Table(None, np.array([0.0, 1.0]), np.zeros(2))


def _mean_energy(groups: list[PowerGroup], load: float, slew: float) -> float:
    """The unconditional groups' mean energy, else the conditional ones'
    (groups on a ground pin left out)."""
    groups = [g for g in groups if not g.grounded]
    plain = [g for g in groups if g.when is None] or groups
    return float(np.mean([g.energy(load, slew) for g in plain])) if plain else 0.0


@dataclass
class Cell:
    name: str
    leakage_mw: float
    inputs: dict[str, float] = field(default_factory=dict)            # pin -> pF
    #: Output pin -> its function (None where the library gives none).
    outputs: dict[str, str | None] = field(default_factory=dict)
    groups: list[PowerGroup] = field(default_factory=list)
    #: Without a cell_leakage_power: its leakage_power groups, (when or "", mW).
    leakage_groups: tuple[tuple[str, float], ...] = ()

    def output_energy(self, pin: str, load: float, slew: float) -> float:
        """Internal energy (pJ) of one toggle of output `pin`: the mean of
        rise and fall, per input that can cause it (its unconditional
        group, else the mean of its state-dependent ones), averaged over
        those inputs."""
        by_input: dict[str | None, list[PowerGroup]] = {}
        for g in self.groups:
            if g.pin == pin and not g.grounded:
                by_input.setdefault(g.related, []).append(g)
        if not by_input:
            return 0.0
        return float(np.mean([_mean_energy(gs, load, slew) for gs in by_input.values()]))

    def input_energy(self, pin: str, slew: float) -> float:
        """Internal energy (pJ) of one toggle of input `pin` (a flop's clock)."""
        return _mean_energy([g for g in self.groups if g.pin == pin], 0.0, slew)


@dataclass(frozen=True)
class WireLoad:
    """A wire-load model: pF per unit length and length by fanout."""
    capacitance: float
    slope: float
    fanout_lengths: tuple[tuple[float, float], ...]

    def cap(self, fanout: int) -> float:
        """The wire's capacitance (pF) for `fanout` loads, as OpenSTA's
        Wireload::findWireload estimates it."""
        points = self.fanout_lengths
        if not points:
            return 0.0
        (f0, l0), (fn, ln) = points[0], points[-1]
        if fanout < f0:
            length = max(0.0, l0 - (f0 - fanout) * self.slope)
        elif fanout >= fn:
            length = ln + (fanout - fn) * self.slope
        else:
            length = float(np.interp(fanout, [f for f, _ in points], [x for _, x in points]))
        return length * self.capacitance


@dataclass
class Library:
    name: str
    voltage: float
    cells: dict[str, Cell]
    tech: Technology
    #: The library's default wire-load model, if it names one.
    wire_load: WireLoad | None = None
    #: ns per time unit and pF per capacitance unit of the library (what
    #: OpenSTA reads and reports in).
    time_unit_ns: float = 1.0
    cap_unit_pf: float = 1.0

    def wire_cap(self, fanout: int) -> float:
        return self.wire_load.cap(fanout) if self.wire_load is not None else 0.0

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


def _table(group, templates: dict, cap_scale: float, time_scale: float) -> Table:
    """An energy table in ns, pF and pJ (the library's energy unit is its
    capacitance unit times 1 V^2)."""
    template = templates.get(group.args[0] if group.args else "")
    variables = template.variables if template else ()
    values = np.array(group.get_array("values"), dtype=float) * cap_scale
    if values.size == 1:
        # Liberty's built-in `scalar` template: one value, no index.
        return Table(None, np.array([0.0, 1.0]), np.repeat(values.reshape(-1), 2))
    first = _index(group, template, "index_1")
    if values.shape[0] == 1 or len(variables) < 2:
        # One variable: the input transition.
        return Table(None, first * time_scale, values.reshape(-1))
    second = _index(group, template, "index_2")
    if variables[0].startswith("input_"):        # (slew, load): put load first
        return Table(second * cap_scale, first * time_scale, values.T)
    return Table(first * cap_scale, second * time_scale, values)


def _leakage(cell) -> tuple[float, tuple[tuple[str, float], ...]]:
    """A cell's leakage in the library's unit: its cell_leakage_power, else
    the mean over the states its leakage_power groups name (summed over
    their supply pins; an unconditional group only where there is no
    other); and, without cell_leakage_power, the groups as (when or "",
    value)."""
    if cell["cell_leakage_power"] is not None:
        return float(cell["cell_leakage_power"]), ()
    groups = tuple((str(g["when"]).strip('"').replace(" ", "") if g["when"] is not None else "",
                    float(g["value"])) for g in cell.get_groups("leakage_power"))
    states: dict[str, float] = {}
    for when, value in groups:
        states[when] = states.get(when, 0.0) + value
    if "" in states and len(states) > 1:
        del states[""]
    return (float(np.mean(list(states.values()))) if states else 0.0), groups


def _wire_load(lib, cap_scale: float) -> WireLoad | None:
    """The library's default_wire_load model (None if it names none)."""
    name = lib["default_wire_load"]
    if name is None:
        return None
    name = str(name).strip('"')
    for w in lib.get_groups("wire_load"):
        if str(w.args[0]).strip('"') == name:
            return WireLoad(float(w["capacitance"]) * cap_scale, float(w["slope"]),
                            tuple(sorted((float(f), float(x)) for f, x
                                         in w.get_attributes("fanout_length"))))
    raise ValueError(f"default_wire_load {name!r} names no wire_load group")


@lru_cache(maxsize=4)
def load_library(path: str) -> Library:
    from liberty.parser import parse_liberty
    lib = parse_liberty(read_liberty_bytes(path).decode())
    cap = lib["capacitive_load_unit"]
    cap_unit = str(cap[1]).strip('"').lower() if isinstance(cap, list) else ""
    leak_unit = str(lib["leakage_power_unit"]).strip('"')
    volt_unit = str(lib["voltage_unit"]).strip('"')
    time_unit = str(lib["time_unit"] or "1ns").strip('"')
    if (cap_unit not in _CAP_UNITS or leak_unit not in _LEAK_UNITS or volt_unit != "1V"
            or time_unit not in _TIME_UNITS):
        raise ValueError(f"{path}: units {cap!r}, {leak_unit!r}, {volt_unit!r}, {time_unit!r}; "
                         "the power model reads pF or fF, 1V, nW, uW, mW or pW, and 1ns or 1ps")
    cap_scale = float(cap[0]) * _CAP_UNITS[cap_unit]
    time_scale = _TIME_UNITS[time_unit]
    templates = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for t in lib.get_groups(kind):
            templates[t.args[0]] = _Template(
                tuple(str(t[v]).strip('"') for v in ("variable_1", "variable_2") if t[v] is not None),
                {i: np.array(t.get_array(i), dtype=float).reshape(-1)
                 for i in ("index_1", "index_2") if t[i] is not None})
    # Supply pins by voltage, through each cell's pg_pin groups.
    rails = {str(v[0]).strip('"'): float(v[1]) for v in lib.get_attributes("voltage_map")}
    cells, inverters = {}, []
    for c in lib.get_groups("cell"):
        supplies = {str(g.args[0]).strip('"'): rails.get(str(g["voltage_name"]).strip('"'), 1.0)
                    for g in c.get_groups("pg_pin")}
        leakage, states = _leakage(c)
        cell = Cell(str(c.args[0]).strip('"'), leakage * _LEAK_UNITS[leak_unit],
                    leakage_groups=tuple((w, v * _LEAK_UNITS[leak_unit]) for w, v in states))
        for p in c.get_groups("pin"):
            pin = str(p.args[0]).strip('"')
            if p["direction"] == "input":
                cell.inputs[pin] = float(p["capacitance"]) * cap_scale
            elif p["direction"] == "output":
                function = p["function"]
                cell.outputs[pin] = (str(function).strip('"').replace(" ", "")
                                     if function is not None else None)
            for g in p.get_groups("internal_power"):
                found = [g.get_groups(k) for k in ("rise_power", "fall_power")]
                if not any(found):
                    continue              # power groups we do not read (e.g. `power`)
                supply = g["related_pg_pin"]
                supply = str(supply).strip('"') if supply is not None else None
                related, when = g["related_pin"], g["when"]
                cell.groups.append(PowerGroup(
                    pin, str(related).strip('"') if related is not None else None,
                    str(when).strip('"') if when is not None else None,
                    *(_table(t[0], templates, cap_scale, time_scale) if t else _ZERO
                      for t in found),
                    supply, supply is not None and not supplies.get(supply, 1.0)))
        cells[cell.name] = cell
        if len(cell.inputs) == 1 and len(cell.outputs) == 1:
            (i,), (o,) = cell.inputs, cell.outputs
            if cell.outputs[o] in (f"!{i}", f"(!{i})", f"{i}'", f"!({i})"):
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
    return Library(str(lib.args[0]).strip('"'), float(lib["nom_voltage"]), cells, tech,
                   _wire_load(lib, cap_scale), time_scale, cap_scale)


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
    #: Of switching_mw, the nets that top-level inputs drive (OpenSTA counts
    #: switching at cell outputs only).
    input_switching_mw: float = 0.0

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


def netlist_loads(library: Library, netlist: Path, top: str):
    """The leaf cells of `top` in `netlist` (Yosys JSON) as (part, instance,
    Cell, {pin: net}) and the capacitance (pF) on each net: the input pins
    it drives, the output load on a top-level output, the wire load for its
    fanout."""
    modules = read_yosys_json(netlist)
    cells, load, fanout = [], {}, {}
    for part, inst, kind, pins in _leaf_cells(modules, top):
        cell = library.cells.get(kind)
        if cell is None:
            raise ValueError(f"{netlist}: cell {inst} is a {kind}, which "
                             f"{library.name} does not have")
        cells.append((part, inst, cell, pins))
        for pin, net in pins.items():
            if net is not None and pin in cell.inputs:
                load[net] = load.get(net, 0.0) + cell.inputs[pin]
                fanout[net] = fanout.get(net, 0) + 1
    module = modules[top]
    top_names = _net_names(module)
    for port in module["ports"].values():
        if port["direction"] == "output":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    net = top_names[bit]
                    load[net] = load.get(net, 0.0) + library.output_load()
                    fanout[net] = fanout.get(net, 0) + 1
    for net, n in fanout.items():
        load[net] += library.wire_cap(n)
    return cells, load


def power(library: Library, netlist: Path, top: str, activity: Activity,
          clock_ns: float, slew_ns: float = NOMINAL_SLEW_NS) -> Power:
    """Average power of `top` in `netlist` (Yosys JSON) under `activity`,
    in total and per part (Power.parts): a net's switching energy belongs
    to the part of the cell that drives it (the top's own part for a
    top-level input)."""
    cells, load = netlist_loads(library, netlist, top)
    driver_part: dict[str, str] = {}
    internal_at: list[tuple[str, object, str, str]] = []     # part, cell, pin, net
    parts: dict[str, list[float]] = {}
    for part, inst, cell, pins in cells:
        parts.setdefault(part, [0.0, 0.0, 0.0])[2] += cell.leakage_mw
        for pin, net in pins.items():
            if net is None:
                continue                    # tied to a constant: never toggles
            if pin in cell.outputs:
                driver_part[net] = part
            elif pin not in cell.inputs:
                continue
            internal_at.append((part, cell, pin, net))

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
    inputs = 0.0
    for net, c in load.items():
        if net in tc:
            mw = 0.5 * c * v2 * tc[net] / window
            parts.setdefault(driver_part.get(net, ""), [0.0, 0.0, 0.0])[1] += mw
            inputs += mw if net not in driver_part else 0.0
    total = [sum(p[i] for p in parts.values()) for i in range(3)]
    return Power(clock_ns, activity.cycles, *total,
                 parts={k: tuple(v) for k, v in parts.items()}, input_switching_mw=inputs)
