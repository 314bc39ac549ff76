"""The launcher: run a trainer binary for a job, locally or as a Kubernetes Job.

It knows the trainer only through its command line and result.json. Both
executors implement `Executor` (submit, status, logs, cancel) and report the
same job states and failure reasons.
"""
