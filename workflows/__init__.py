"""Example workflows. Each lives in its own folder beside the spec that trains it.

The trainer finds a workflow by its class name (`train.workflow_name`) among
the modules of this package.
"""
