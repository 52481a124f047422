"""Worlds built in this process, for the Python-level tests of the simulator's rooms (no server, no HTTP)."""

import scenario as scenarios
from world import World

NOW = 1_800_000_000.0


def world_of(definition, speed=1, now=NOW):
    """Return a World built from a scenario, validated as the server validates it."""
    return World(scenarios.validate(definition), speed, now)


def switches(**changes):
    """Return every switch at its default, with some changed."""
    return dict(scenarios.switches_of({}), **changes)
