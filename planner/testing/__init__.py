"""Generators for tests and benchmarks (seeded fleets of covered plants); not used by planning itself."""
