"""golden/config.py: the one configuration object, its typed cuts and its one name."""

import pytest

from ifmac.golden.config import Config, Cut, TreeCut
from ifmac.golden.formats import FORMAT_NAMES


def test_cuts_are_typed_values():
    """Cuts are Cut members and TreeCut(level), spelled as the CLI spells them."""
    c = Config.make("if4", "lane", 16, "product,tree:2")
    assert c.cuts == (Cut.PRODUCT, Cut.MULTIPLY, TreeCut(2))
    assert [str(x) for x in c.cuts] == ["product", "multiply", "tree:2"]
    assert c.tree_cuts == frozenset({2}) and c.pipeline == "product,tree:2"
    assert Config.make("if4", "lane", 16, "max").tree_cuts == frozenset({1, 2, 3})


@pytest.mark.parametrize("spec", ["0", "max", "decode", "scale,accumulate", 3, "tree:1,tree:3"])
def test_pipeline_round_trips_through_its_spelling(spec):
    """Config.make(..., c.pipeline) rebuilds the same configuration."""
    c = Config.make("nvfp4", "lane", 16, spec, 2)
    assert Config.make("nvfp4", "lane", 16, c.pipeline, 2) == c
    assert c.replace() == c


def test_name_is_the_one_key():
    """Every configuration of a plan has its own name; Configs are hashable."""
    configs = {Config.make(f, a, b, p, k) for f in FORMAT_NAMES for a in ("lane", "g4", "fused")
               for b in (16, 32) for p in (0, "max") for k in (1, 2)}
    assert len({c.name for c in configs}) == len(configs)
    assert str(Config.make("if4", "fused", 8)) == "ifmac_if4_fused_b8"
    with pytest.raises(AttributeError):
        Config.make("if4").group = 2                     # frozen


def test_same_stream():
    """Beats of one configuration run on another of the same format and block size."""
    lane = Config.make("if4", "lane", 16)
    assert lane.same_stream(Config.make("if4", "fused", 16, "max", 4))
    assert not lane.same_stream(Config.make("if4", "lane", 8))
    assert not lane.same_stream(Config.make("nvfp4", "lane", 16))


def test_replace_keeps_cuts_by_name():
    c = Config.make("if4", "lane", 16, "product", 2)
    assert c.replace(fmt="nvfp4").name == "ifmac_nvfp4_lane_b16_p_product_i2"
    with pytest.raises(ValueError, match="unknown cut 'tree:1' for if4 fused b16 i1"):
        Config.make("if4", "lane", 16, "tree:1").replace(arch="fused", interleave=1)


def test_exact_arch():
    """The exact arch: one group of B, its own name, the accumulate cut first,
    latency 2 unpipelined; MX formats and interleave refused, naming why."""
    from ifmac.golden.errors import InputError
    c = Config.make("if4", "exact", 16)
    assert (c.arch, c.group, c.exact, c.latency) == ("exact", 16, True, 2)
    assert c.name == "ifmac_if4_exact_b16" and c != Config.make("if4", "fused", 16)
    assert c.cut_order()[0] == Cut.ACCUMULATE and c.tree_levels == 0
    assert c.replace(pipeline="max").exact and c.replace(pipeline="max").latency == 7
    d = c.replace(expansion="deferred")
    assert d.name == "ifmac_if4_exact_b16_deferred" and d.replace(fmt="nvfp4").name == \
        "ifmac_nvfp4_exact_b16"
    with pytest.raises(InputError, match="mxfp4 has E8M0 scales.*540 bits"):
        Config.make("mxfp4", "exact", 32)
    with pytest.raises(InputError, match="interleave must be 1, not 2"):
        Config.make("if4", "exact", 16, interleave=2)
