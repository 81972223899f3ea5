"""What OpenSTA 2.0.17's `report_power` computes, from ifmac's own reading
of the library and the netlist: the middle column of the power model's
check (signoff.power_check, docs/signoff.md).

Debian's OpenSTA (2.0.17, a 2019 snapshot) takes one activity for every
net (`set_power_activity -global`) and weighs internal energy its own way
(search/Power.cc of that release): per arc it adds the rise and the fall
energy, each times a duty, where ifmac (and OpenSTA since) takes their
mean; a pin's unconditional group counts beside its state-dependent ones.
Replaying that arithmetic here on ifmac's tables, loads and wire loads,
with the slews OpenSTA computed, must give OpenSTA's figures: what is
checked is everything ifmac reads (tables, units, capacitances, wire
loads, leakage, the netlist's connections), apart from the weighing.

A function or `when` is Liberty's Boolean syntax; its duty is the
probability that it is true with every pin at duty 0.5 and each operand
taken as independent, as Power::evalActivity has it.
"""

from __future__ import annotations

import re
from pathlib import Path

from .power import Library, netlist_loads

__all__ = ["parse_function", "duty", "inferred_when", "report_power"]

_TOKENS = re.compile(r"[A-Za-z_][\w\[\].]*|[01]|[!'()*&+|^]|\s+")


def parse_function(text: str):
    """A Liberty Boolean expression as a tree: ("port", name), ("not", x),
    ("and" | "or" | "xor", x, y), ("one",), ("zero",). Operators: ! and a
    trailing ' (not), ^ (xor), * & or operands side by side (and), + |
    (or), from the tightest."""
    text = text.strip()
    tokens = _TOKENS.findall(text)
    if "".join(tokens) != text:
        raise ValueError(f"not a Liberty Boolean expression: {text!r}")
    pos = 0

    def next_at() -> int:
        i = pos
        while i < len(tokens) and tokens[i].isspace():
            i += 1
        return i

    def peek():
        i = next_at()
        return tokens[i] if i < len(tokens) else None

    def take():
        nonlocal pos
        pos = next_at() + 1
        return tokens[pos - 1] if pos <= len(tokens) else None

    def operand_starts(tok) -> bool:
        return tok is not None and (tok in "(!" or tok[0].isalnum() or tok[0] == "_")

    def unary():
        tok = take()
        if tok == "!":
            node = ("not", unary())
        elif tok == "(":
            node = either()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {text!r}")
        elif tok in ("0", "1"):
            node = ("one",) if tok == "1" else ("zero",)
        elif operand_starts(tok):
            node = ("port", tok)
        else:
            raise ValueError(f"unexpected {tok!r} in {text!r}")
        while pos < len(tokens) and tokens[pos] == "'":
            take()
            node = ("not", node)
        return node

    def xor():
        node = unary()
        while peek() == "^":
            take()
            node = ("xor", node, unary())
        return node

    def both():
        node = xor()
        while True:
            tok = peek()
            if tok in ("*", "&"):
                take()
            elif not operand_starts(tok):     # operands side by side: an AND
                return node
            node = ("and", node, xor())

    def either():
        node = both()
        while peek() in ("+", "|"):
            take()
            node = ("or", node, both())
        return node

    tree = either()
    if peek() is not None:
        raise ValueError(f"unexpected {peek()!r} in {text!r}")
    return tree


def duty(tree, pins) -> float:
    """Probability that `tree` is true, each pin of `pins` at 0.5 and a
    name that is no pin of the instance at 0 (OpenSTA's evalActivity)."""
    op = tree[0]
    if op == "port":
        return 0.5 if tree[1] in pins else 0.0
    if op in ("one", "zero"):
        return 1.0 if op == "one" else 0.0
    if op == "not":
        return 1.0 - duty(tree[1], pins)
    a, b = duty(tree[1], pins), duty(tree[2], pins)
    if op == "and":
        return a * b
    if op == "or":
        return 1.0 - (1.0 - a) * (1.0 - b)
    return a * (1.0 - b) + b * (1.0 - a)


def _negate(tree):
    return tree[1] if tree[0] == "not" else ("not", tree)


def _is_ref(tree, pin: str) -> bool:
    return tree == ("port", pin) or (tree[0] == "not" and tree[1] == ("port", pin))


def inferred_when(tree, pin: str):
    """The state in which `pin` controls a function (Power::inferedWhen):
    None where it cannot say."""
    op = tree[0]
    if op == "port":
        return ("one",) if tree[1] == pin else None
    if op == "not":
        return inferred_when(tree[1], pin)
    if op in ("or", "xor"):
        if _is_ref(tree[1], pin):
            return _negate(tree[2])
        if _is_ref(tree[2], pin):
            return _negate(tree[1])
    if op == "and":
        if _is_ref(tree[1], pin):
            return tree[2]
        if _is_ref(tree[2], pin):
            return tree[1]
    return None


def _missing_when(cell, pin: str, supply: str | None) -> bool:
    """Power::internalPowerMissingWhen: whether `pin`'s own (no related
    pin) state-dependent groups on `supply` fall short of 2^n, n the number
    of pins the last one names."""
    whens = [g.when for g in cell.groups
             if g.pin == pin and g.related is None and g.supply == supply and g.when]
    names = {t for t in re.findall(r"[A-Za-z_][\w\[\].]*", whens[-1])} if whens else set()
    return len(whens) != 1 << len(names)


def _leakage(cell, pins) -> float:
    """Power::findLeakagePower: cell_leakage_power, else each state's group
    times 2 * 0.5^(its input pins), else the unconditional groups."""
    if not cell.leakage_groups:
        return cell.leakage_mw
    states = [(when, v) for when, v in cell.leakage_groups if when]
    if not states:
        return sum(v for _, v in cell.leakage_groups)
    return sum(v * 2.0 * 0.5 ** len({n for n in re.findall(r"[A-Za-z_][\w\[\].]*", when)
                                      if n in cell.inputs})
               for when, v in states)


def report_power(library: Library, netlist: Path, top: str, activity: float,
                 clock_nets: set[str], clock_ns: float,
                 slews: dict[str, tuple[float, float]]) -> dict[str, float]:
    """OpenSTA 2.0.17's internal, switching and leakage power (mW) of `top`
    with every net toggling `activity` times per cycle and the clock nets
    twice; `slews` (ns) are OpenSTA's, by "instance/pin"."""
    cells, loads = netlist_loads(library, netlist, top)
    v2 = library.voltage ** 2
    trees: dict[str, object] = {}

    def tree(text):
        if text not in trees:
            trees[text] = parse_function(text)
        return trees[text]

    internal = switching = leakage = 0.0
    for _, inst, cell, pins in cells:
        leakage += _leakage(cell, pins)
        rate = {p: 2.0 if net in clock_nets else activity for p, net in pins.items()}
        for to in pins:
            load = loads.get(pins[to], 0.0) if to in cell.outputs else 0.0
            if to in cell.outputs:
                switching += 0.5 * load * v2 * rate[to] / clock_ns
            for g in cell.groups:
                if g.pin != to or (g.related or to) not in pins:
                    continue
                # A group on a ground pin counts only when it has a state
                # and the pin's stateful groups do not cover every state.
                if g.grounded and not (g.when and _missing_when(cell, to, g.supply)):
                    continue
                frm = g.related or to
                infer = None
                if g.related and g.when is None and cell.outputs.get(to):
                    infer = inferred_when(tree(cell.outputs[to]), frm)
                if infer is not None:
                    weight = rate[frm] / rate[to] * duty(infer, pins)
                elif g.when is not None:
                    weight = duty(tree(g.when), pins)
                else:
                    weight = 1.0 if pins[frm] in clock_nets else 0.5
                rise, fall = slews.get(f"{inst}/{frm}", (0.0, 0.0))
                energy = (g.rise.at(load, rise) + g.fall.at(load, fall)) * weight
                internal += energy * rate[to] / clock_ns
    return {"internal_mw": internal, "switching_mw": switching, "leakage_mw": leakage}
