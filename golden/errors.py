"""The exception for bad input.

`InputError` is what ifmac raises for input a user can get wrong: an
unknown format, rule, arch or simulator, a tensor with NaN, a shape that
does not fit, codes wider than the format, a file that is not what it
should be. It is a ValueError, so library callers can catch either. The CLI
reports it in one line with exit code 2; any other exception is a bug in
ifmac and keeps its traceback.
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from the user; the message names the value and what was expected."""
