"""WorkerEnv: which worker a trainer process is, from the launcher's environment."""

import pytest

from railyard.distributed.env import WorkerEnv, WorkerEnvError

RENDEZVOUS = {"RAILYARD_RENDEZVOUS_HOST": "10.0.0.5", "RAILYARD_RENDEZVOUS_PORT": "29400"}


def test_absent_variables_mean_one_worker():
    env = WorkerEnv.from_environ({})
    assert (env.rank, env.world_size, env.distributed) == (0, 1, False)


def test_worker_index_and_rendezvous():
    env = WorkerEnv.from_environ({"RAILYARD_WORKERS": "3", "RAILYARD_WORKER_INDEX": "2", **RENDEZVOUS})
    assert (env.rank, env.world_size, env.rendezvous_host) == (2, 3, "10.0.0.5")
    assert (env.tracker_port, env.torch_port) == (29400, 29401)
    assert env.rendezvous_dir is None
    assert env.exchange_timeout_s == 6 * 3600


def test_a_rendezvous_directory_for_workers_on_one_machine():
    env = WorkerEnv.from_environ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "1", "RAILYARD_RENDEZVOUS_DIR": "/job/work/rv", **RENDEZVOUS})
    assert env.rendezvous_dir == "/job/work/rv"


def test_the_exchange_timeout_is_the_launchers():
    env = WorkerEnv.from_environ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "0", "RAILYARD_EXCHANGE_TIMEOUT": "900", **RENDEZVOUS})
    assert env.exchange_timeout_s == 900


def test_indexed_job_completion_index_when_worker_index_is_absent():
    env = WorkerEnv.from_environ({"RAILYARD_WORKERS": "4", "JOB_COMPLETION_INDEX": "3", **RENDEZVOUS})
    assert env.rank == 3


@pytest.mark.parametrize("environ, message", [
    ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "2", **RENDEZVOUS}, "RAILYARD_WORKER_INDEX: expected a worker index in 0..1, got 2"),
    ({"RAILYARD_WORKERS": "2", **RENDEZVOUS}, "JOB_COMPLETION_INDEX: expected an integer"),
    ({"RAILYARD_WORKERS": "two"}, "RAILYARD_WORKERS: expected an integer, got 'two'"),
    ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "0", "RAILYARD_RENDEZVOUS_PORT": "29400"}, "RAILYARD_RENDEZVOUS_HOST"),
    ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "0", "RAILYARD_RENDEZVOUS_HOST": "h", "RAILYARD_RENDEZVOUS_PORT": "0"},
     "RAILYARD_RENDEZVOUS_PORT: expected a port in 1..65534, got 0"),
    ({"RAILYARD_WORKERS": "2", "RAILYARD_WORKER_INDEX": "0", "RAILYARD_EXCHANGE_TIMEOUT": "0", **RENDEZVOUS},
     "RAILYARD_EXCHANGE_TIMEOUT: expected seconds >= 1, got 0"),
])
def test_bad_environment_is_one_line_naming_the_variable(environ, message):
    with pytest.raises(WorkerEnvError) as raised:
        WorkerEnv.from_environ(environ)
    assert message in str(raised.value) and "\n" not in str(raised.value)
