"""ifmac golden models: the format registry, the bit-exact codec and the MAC model."""

from .formats import FORMATS, FORMAT_NAMES, BLOCK_SIZES, Format, get_format, check_block_size
from .codec import QuantizedTensor, quantize, dequantize, pack, unpack, RULES
from .config import Config, Cut, TreeCut
from .model import mac, ARCHS, Status, decode_scales, scale, cycle_model
from .vectors import Beats

__all__ = [
    "FORMATS", "FORMAT_NAMES", "BLOCK_SIZES", "Format", "get_format", "check_block_size",
    "QuantizedTensor", "quantize", "dequantize", "pack", "unpack", "RULES",
    "mac", "ARCHS", "Config", "Cut", "TreeCut", "Status", "Beats", "decode_scales", "scale",
    "cycle_model",
]
