"""Sample data generators for the demo, the tests and the benchmarks."""
