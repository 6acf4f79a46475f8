"""Solve stage: the HiGHS adapter (statuses, options, compiled arrays), numerics checks, and the warm
re-solvers of sweeps."""
