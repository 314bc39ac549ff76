"""The one table of job states: what may follow what."""

from railyard.states import JobState


def test_finished_states_are_final_and_queued_may_end_at_once():
    for state in JobState:
        assert state.may_become(state) is False
    for finished in (JobState.complete, JobState.failed, JobState.cancelled):
        assert finished.finished and not any(finished.may_become(other) for other in JobState)
    assert JobState.queued.may_become(JobState.running) and JobState.queued.may_become(JobState.cancelled)
    assert JobState.running.may_become(JobState.complete) and not JobState.running.may_become(JobState.queued)
