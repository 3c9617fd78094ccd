"""Test configuration: a deterministic hypothesis profile in CI (CI=true), random examples
elsewhere (where they keep finding new cases)."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
