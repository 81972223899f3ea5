"""synth/opensta_power.py: OpenSTA 2.0.17's power arithmetic, replayed."""

import pytest

from ifmac.synth.opensta_power import duty, inferred_when, parse_function


@pytest.mark.parametrize("text,tree", [
    ("!((A1*A2)+B1)", ("not", ("or", ("and", ("port", "A1"), ("port", "A2")),
                               ("port", "B1")))),
    ("A B", ("and", ("port", "A"), ("port", "B"))),
    ("A'+B", ("or", ("not", ("port", "A")), ("port", "B"))),
    ("A^B&C", ("and", ("xor", ("port", "A"), ("port", "B")), ("port", "C"))),
    ("(D * RESET_B * Q)", ("and", ("and", ("port", "D"), ("port", "RESET_B")), ("port", "Q"))),
    ("1", ("one",)),
    ("(!((A+B)C))", ("not", ("and", ("or", ("port", "A"), ("port", "B")), ("port", "C")))),
])
def test_parse_function(text, tree):
    assert parse_function(text) == tree


@pytest.mark.parametrize("text", ["A +", "(A", "A $ B", ""])
def test_parse_function_refuses(text):
    with pytest.raises(ValueError):
        parse_function(text)


def test_duty_and_inferred_when():
    """Every pin at duty 0.5, a name that is no pin at 0; the state in
    which an input controls the output, as Power::inferedWhen finds it."""
    pins = {"A", "B", "C", "Y"}
    assert duty(parse_function("A*B*C"), pins) == 0.125
    assert duty(parse_function("A+B"), pins) == 0.75
    assert duty(parse_function("A^B"), pins) == 0.5
    assert duty(parse_function("A*IQ"), pins) == 0.0
    assert inferred_when(parse_function("!(A*B)"), "A") == ("port", "B")
    assert inferred_when(parse_function("!((A1*A2)+B1)"), "B1") == (
        "not", ("and", ("port", "A1"), ("port", "A2")))
    assert inferred_when(parse_function("!A"), "A") == ("one",)
    assert inferred_when(parse_function("IQ"), "CLK") is None
