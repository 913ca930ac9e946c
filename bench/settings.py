"""Benchmark settings: the real settings plus an empty JSON view to compare against."""

from fleetsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
