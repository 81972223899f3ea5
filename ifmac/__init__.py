"""ifmac: generator, simulator and verification suite for IF/NVFP block-scaled MAC units."""

__version__ = "0.1.0"
