"""Synthetic playback traffic with ground truth and injected incidents, deterministic for a seed.

`simulate(config)` yields chunks of events (in the store's insert layout) with the true values of
their views; `run_simulation` streams them into a store and writes the ground truth.
"""

from sightline.simulate.incidents import Incident
from sightline.simulate.traffic import (
    SimulatedChunk,
    SimulationConfig,
    SimulationSummary,
    run_simulation,
    simulate,
)
from sightline.simulate.truth import GroundTruth, read_ground_truth, write_ground_truth

__all__ = [
    "GroundTruth",
    "Incident",
    "SimulatedChunk",
    "SimulationConfig",
    "SimulationSummary",
    "read_ground_truth",
    "run_simulation",
    "simulate",
    "write_ground_truth",
]
