"""The training pipeline, one module per step.

load → filter → split → train → evaluate → serialize. `run.run_pipeline` chains
them and records each step's wall time, rows in and out, and peak memory.
"""
