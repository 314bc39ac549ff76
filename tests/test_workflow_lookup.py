"""A workflow is found by its class name in the workflows package, in a folder of its own whether or not that
folder has an `__init__.py` (docs/workflows.md's recipe adds none), importing only the module that defines it."""

import sys

from railyard import workflow


def test_a_workflow_in_a_folder_without_an_init_file_is_found(tmp_path, monkeypatch):
    package = tmp_path / "lookup_workflows"
    (package / "churn").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "churn" / "workflow.py").write_text(
        "from railyard import Workflow\n\n\nclass LookupChurnModel(Workflow):\n    def train(self, training, holdout):\n        return None\n")
    (package / "other").mkdir()
    (package / "other" / "heavy.py").write_text("raise ImportError('never imported: it defines no LookupChurnModel')\n")
    (package / "not-a-module").mkdir()
    (package / "not-a-module" / "x.py").write_text("class LookupChurnModel: pass\n")
    (package / "side.py").write_text("raise ImportError('never imported: a module beside a folder of its name')\n")
    (package / "side").mkdir()
    (package / "side" / "notes.py").write_text("print 'LookupChurnModel, in a file that does not parse'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(workflow, "WORKFLOW_PACKAGE", "lookup_workflows")
    found = workflow.find_workflow("LookupChurnModel")
    assert found.__module__ == "lookup_workflows.churn.workflow" and issubclass(found, workflow.Workflow)
    assert not {"lookup_workflows.other.heavy", "lookup_workflows.side", "lookup_workflows.side.notes"} & set(sys.modules)
