"""The MLP on several workers over torch.distributed (gloo on loopback): every worker ends with the same
weights, and a 2-worker job gives the same holdout rows as a single worker."""

import json
import time

import pytest

from railyard.launch.binary import resolve
from railyard.launch.job import JobRequest, JobState
from railyard.launch.local import LocalExecutor
from railyard.launch.resources import load_config
from railyard.spec import parse_spec
from tests.conftest import example_spec, free_port, read_result
from tests.distributed.workers import run, run_with_worker_1_failing

pytestmark = pytest.mark.slow

# One worker: trains the MLP on its share of the charges (rank r takes every world_size-th row from r,
# so the shares differ in size) inside torch_group, and saves its final weights and what it saw.
WORKER = """
import json, os, sys
import pandas as pd, torch, torch.distributed as dist
from railyard.distributed.env import WorkerEnv
from railyard.distributed.torch_group import torch_group
from workflows.mlp.workflow import TabularMLPModel

env = WorkerEnv.from_environ()
frame = pd.read_parquet(sys.argv[1])
for column in ("charge_type", "charge_country", "card_country"):
    frame[column] = frame[column].astype("category")
frame["has_fraud_dispute"] = frame["has_fraud_dispute"].astype(int)
share = frame.iloc[env.rank :: env.world_size].iloc[: 3000 + 500 * env.rank]
workflow = TabularMLPModel(custom_params={"epochs": 2, "batch_size": 256, "hidden_sizes": [16]}, classifier_label="has_fraud_dispute",
                           classifier_features=["charge_type", "charge_amount", "charge_country", "card_country", "countries_used_24h"])
with torch_group(env) as exchange:
    seen = {"backend": dist.get_backend(), "master_port": os.environ["MASTER_PORT"],
            "gathered": exchange.allgather(env.rank), "on_rank_0": exchange.gather(env.rank)}
    model = workflow.train(share.iloc[:-400], share.iloc[-400:])
seen["initialized_after"] = dist.is_initialized()
torch.save(model.state_dict(), os.path.join(sys.argv[2], f"weights-{env.rank}.pt"))
print(json.dumps(seen))
"""


def test_two_workers_end_with_the_same_weights(tmp_path, charges_path):
    import torch

    port = free_port()
    workers = run(["-c", WORKER, charges_path, tmp_path], 2, port=port)
    assert [w.returncode for w in workers] == [0, 0], [w.stderr[-3000:] for w in workers]
    for rank, worker in enumerate(workers):
        seen = json.loads(worker.stdout.splitlines()[-1])
        assert seen == {"backend": "gloo", "master_port": str(port + 1), "gathered": [0, 1], "on_rank_0": [0, 1] if rank == 0 else None,
                        "initialized_after": False}
    first, second = (torch.load(tmp_path / f"weights-{rank}.pt") for rank in range(2))
    assert list(first) == list(second)
    assert all(torch.equal(first[name], second[name]) for name in first)

    torch.manual_seed(0)  # the weights moved from where both started
    initial = torch.nn.Linear(first["network.0.weight"].shape[1], 16).weight
    assert not torch.allclose(initial, first["network.0.weight"])


def run_job(tmp_path, charges_path, workers: int):
    spec = example_spec("mlp", charges_path, workers=workers)
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    job_id = f"mlp-{workers}-{time.monotonic_ns()}"
    output = tmp_path / "runs" / job_id
    executor.submit(JobRequest(job_id, parse_spec(spec), resolve("dev"), str(output)))
    return executor, job_id, output


def test_a_two_worker_mlp_job_gives_the_single_workers_holdout_rows(tmp_path, charges_path):
    executor, job_id, output = run_job(tmp_path, charges_path, workers=2)
    final = list(executor.watch(job_id, timeout_seconds=600))[-1]
    assert final.state is JobState.complete, (final, executor.logs(job_id)[-3000:])
    assert "[worker 1] " in executor.logs(job_id)
    single_executor, single_id, single = run_job(tmp_path, charges_path, workers=1)
    assert list(single_executor.watch(single_id, timeout_seconds=600))[-1].state is JobState.complete

    result = json.loads((output / "result.json").read_text())
    single_result = json.loads((single / "result.json").read_text())
    assert result["status"]["transition"]["job_state"] == "complete"
    assert (result["result"]["training_rows"], result["result"]["holdout_rows"]) == (
        single_result["result"]["training_rows"], single_result["result"]["holdout_rows"])
    assert (output / "labels.tsv").read_text() == (single / "labels.tsv").read_text()
    scores = (output / "scores.tsv").read_text().splitlines()
    assert len(scores) == len((single / "scores.tsv").read_text().splitlines())
    assert result["result"]["metrics"]["roc_auc"] > 0.6
    assert (output / "model" / result["result"]["model_id"]).is_file()


# One worker on this machine: joins the group through a rendezvous directory and reports the TCP
# addresses its own process listens on.
LISTENER = """
import os, sys
from railyard.distributed.env import WorkerEnv
from railyard.distributed.torch_group import torch_group

def listening():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            inodes.add(os.readlink(f"/proc/self/fd/{fd}").removeprefix("socket:[").rstrip("]"))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    rows = [line.split() for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6") for line in open(table).readlines()[1:]]
    return [row[1].split(":")[0] for row in rows if row[3] == "0A" and row[9] in inodes]

with torch_group(WorkerEnv.from_environ()) as exchange:
    print(" ".join(listening()), exchange.allgather(1) == [1, 1], flush=True)
"""
LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net lists them


def test_workers_on_one_machine_listen_on_loopback_only(tmp_path):
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir(mode=0o700)
    workers = run(["-c", LISTENER], 2, RAILYARD_RENDEZVOUS_DIR=str(rendezvous))
    assert [w.returncode for w in workers] == [0, 0], [w.stderr[-3000:] for w in workers]
    for worker in workers:
        *addresses, exchanged = worker.stdout.split()
        assert exchanged == "True"
        assert addresses and set(addresses) <= LOOPBACK_HEX  # gloo's own links; no store server at all


def test_a_torch_worker_whose_link_broke_exits_3_with_worker_link_lost(tmp_path, charges_path):
    # worker 0 waits on worker 1 in its first exchange when worker 1 fails
    finished = run_with_worker_1_failing(tmp_path, example_spec("mlp", charges_path), "workflows.mlp.workflow:TabularMLPModel")
    assert [w.returncode for w in finished] == [3, 1], [w.stderr[-2000:] for w in finished]
    info = read_result(tmp_path / "run")["exception_info"]
    assert info["type"] == "WorkerLinkLost" and "\n" not in info["message"]
