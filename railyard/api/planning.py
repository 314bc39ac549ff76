"""Validate and dry run: the trainer binary plans the spec in a subprocess with a time and a memory limit.

`<trainer> --plan --spec FILE` makes every check a run makes before training
and prints the row counts as one line of JSON. Reading user data never happens
in the API process, so a hostile spec can at worst fail its own request. At
most `plan_concurrency` plans run at once and each principal has at most
`PER_PRINCIPAL` waiting or running (429 beyond); a request that finds every
slot busy for `BUSY_WAIT_SECONDS` gets 503. Waiting holds no thread and no
database connection. The plan runs with the principal's data prefixes
(RAILYARD_DATA_PREFIXES), so it opens only data under them; a file it refuses
at open answers 403 with the same line as the check at submit.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import resource
import signal
import subprocess
import tempfile
from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from railyard.api.problems import Busy, Forbidden, TooManyRequests, Unprocessable
from railyard.api.settings import Settings
from railyard.spec import TrainingSpec
from railyard.storage.prefixes import DataAccessDenied, Prefixes, with_prefixes

BUSY_WAIT_SECONDS = 30
PER_PRINCIPAL = 4
_OUTPUT_LIMIT = 64 * 1024


def _problem(message: str) -> Unprocessable:
    return Unprocessable(message, loc=("body", "spec"))


class Planner:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.slots = asyncio.Semaphore(settings.plan_concurrency)
        self.busy_wait_seconds = BUSY_WAIT_SECONDS
        self.per_principal = PER_PRINCIPAL
        self.in_flight: collections.Counter[str] = collections.Counter()

    def _limits(self) -> None:
        memory = self.settings.plan_memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    async def plan(self, principal: str, command: list[str], spec: TrainingSpec, workflow_modules: list[str],
                   data_prefixes: Prefixes | None) -> dict:
        """The plan's row counts; 422 with the trainer's one-line message when the spec does not fit its data,
        403 when it reached data outside `data_prefixes` (None: no restriction)."""
        if self.in_flight[principal] >= self.per_principal:
            raise TooManyRequests(f"{principal} has {self.per_principal} validations under way; wait for them",
                                  headers={"Retry-After": "10"})
        self.in_flight[principal] += 1
        try:
            try:
                await asyncio.wait_for(self.slots.acquire(), self.busy_wait_seconds)
            except TimeoutError:
                raise Busy("every validation slot is busy; try again shortly", headers={"Retry-After": "10"}) from None
            try:
                return await run_in_threadpool(self._run, command, spec, workflow_modules, data_prefixes)
            finally:
                self.slots.release()
        finally:
            self.in_flight[principal] -= 1
            if not self.in_flight[principal]:
                del self.in_flight[principal]

    def _run(self, command: list[str], spec: TrainingSpec, workflow_modules: list[str],
             data_prefixes: Prefixes | None) -> dict:
        seconds = self.settings.plan_seconds
        with tempfile.TemporaryDirectory(prefix="railyard-plan-") as work:
            spec_file = Path(work) / "spec.json"
            spec_file.write_text(spec.to_json())
            argv = command + ["--plan", "--spec", str(spec_file)]
            for module in workflow_modules:
                argv += ["--workflow-module", module]
            env = with_prefixes({**os.environ, "TMPDIR": work, "PEX_ROOT": str(Path(self.settings.pex_root).absolute())},
                                data_prefixes)
            try:
                process = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, preexec_fn=self._limits, start_new_session=True)
            except OSError as exc:
                raise _problem(f"the trainer binary cannot be started: {exc.strerror or exc}") from None
            try:
                stdout, _ = process.communicate(timeout=seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the trainer and anything it started
                process.communicate()
                raise _problem(f"checking the spec against its data took longer than {seconds:g} s") from None
        code = process.returncode
        lines = stdout[-_OUTPUT_LIMIT:].decode(errors="replace").strip().splitlines()
        try:
            answer = json.loads(lines[-1]) if lines else None
        except ValueError:
            answer = None
        if code == 0 and isinstance(answer, dict) and "rows_in" in answer:
            return answer
        if isinstance(answer, dict) and isinstance(answer.get("error"), str):
            if answer.get("type") == DataAccessDenied.__name__:
                raise Forbidden(answer["error"])
            raise _problem(answer["error"])
        if code < 0 or code == 137:
            raise _problem(f"checking the spec against its data was stopped (signal {-code if code < 0 else 9}); "
                           f"it may have needed more than {self.settings.plan_memory_bytes // 2**20} MiB")
        raise _problem(f"checking the spec against its data failed (trainer exit code {code})")
