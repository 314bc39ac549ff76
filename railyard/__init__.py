"""Railyard: train, evaluate and version models from a JSON training spec.

Users need little more than:

    from railyard import Workflow, load_model
"""

import logging

from railyard.model import Model, load_model
from railyard.spec import TrainingSpec, load_spec
from railyard.workflow import Workflow

__all__ = ["Model", "TrainingSpec", "Workflow", "load_model", "load_spec"]
__version__ = "0.1.0"

# Prophet logs "Importing plotly failed" as an error when it loads without plotly, which only its interactive plots use.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
