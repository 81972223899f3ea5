import os
import sys

from hypothesis import HealthCheck, settings

# tests/ helpers (exact_ref) import as plain modules.
sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile("ifmac", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ifmac")
