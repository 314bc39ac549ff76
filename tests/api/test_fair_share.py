"""Which queued jobs the dispatcher takes, and in which order (railyard/api/fair_share.py): fair across owners
within each compute resource, within its slots and each owner's running cap, weighted per owner."""

from collections import Counter

from railyard.api.fair_share import Limits, Queued, to_dispatch


def flood(owner: str, count: int, resource: str = "CPU") -> list[Queued]:
    prefix = owner if resource == "CPU" else f"{owner}-{resource}"
    return [Queued(f"{prefix}-{i}", owner, resource) for i in range(count)]


def ids(jobs: list[Queued]) -> list[str]:
    return [job.job_id for job in jobs]


def drain(queued: list[Queued], limits: Limits, slots_free_each_turn: int = 1) -> list[str]:
    """Dispatch everything one turn at a time, as the dispatcher would, each turn's jobs finishing before the next."""
    order, served, clock = [], {}, 0.0
    while queued:
        taken = to_dispatch(queued, Counter(), served, limits)[:slots_free_each_turn]
        assert taken, "nothing dispatched while jobs wait and slots are free"
        for job in taken:
            clock += 1
            served[job.resource, job.owner] = clock
        order += ids(taken)
        queued = [job for job in queued if job not in taken]
    return order


def test_one_slot_a_later_owner_goes_right_after_the_running_job():
    # alice's first job runs (it was dispatched before carol submitted); her other 7 wait, then carol's 1.
    queued = flood("alice", 7) + flood("carol", 1)
    served = {("CPU", "alice"): 100.0}
    assert ids(to_dispatch(queued, Counter(), served, Limits({"CPU": 1}))) == ["carol-0"]


def test_one_slot_takes_turns_across_owners_oldest_owner_first():
    queued = flood("alice", 4) + flood("bob", 2) + flood("carol", 1)
    assert drain(queued, Limits({"CPU": 1})) == ["alice-0", "bob-0", "carol-0", "alice-1", "bob-1", "alice-2", "alice-3"]


def test_free_slots_of_one_turn_go_round_robin():
    queued = flood("alice", 5) + flood("bob", 5) + flood("carol", 1)
    assert ids(to_dispatch(queued, Counter(), {}, Limits({"CPU": 4}))) == ["alice-0", "bob-0", "carol-0", "alice-1"]


def test_the_owner_with_fewest_running_goes_first_however_long_the_others_waited():
    queued = flood("alice", 3) + flood("bob", 1)
    running = Counter({("CPU", "alice"): 2})
    assert ids(to_dispatch(queued, running, {}, Limits({"CPU": 4}))) == ["bob-0", "alice-0"]


def test_a_flood_waits_behind_no_more_than_the_running_jobs():
    # alice holds every slot and has 100 more queued; bob's one job takes the first slot that frees.
    queued = flood("alice", 100) + flood("bob", 1)
    running = Counter({("CPU", "alice"): 3})
    served = {("CPU", "alice"): 5.0}
    assert ids(to_dispatch(queued, running, served, Limits({"CPU": 4}))) == ["bob-0"]


def test_no_more_than_the_free_slots_and_none_when_full():
    queued = flood("alice", 3)
    assert ids(to_dispatch(queued, Counter(), {}, Limits({"CPU": 2}))) == ["alice-0", "alice-1"]
    assert to_dispatch(queued, Counter({("CPU", "bob"): 2}), {}, Limits({"CPU": 2})) == []
    assert ids(to_dispatch(queued, Counter(), {}, Limits())) == ["alice-0"]  # a resource without a limit: one slot


def test_an_owner_at_its_running_cap_is_skipped_and_the_slot_goes_to_another():
    limits = Limits({"CPU": 4}, running_per_owner={"CPU": 2})
    queued = flood("alice", 5) + flood("bob", 1)
    assert ids(to_dispatch(queued, Counter({("CPU", "alice"): 1}), {}, limits)) == ["bob-0", "alice-0"]
    assert ids(to_dispatch(flood("alice", 5), Counter({("CPU", "alice"): 2}), {}, limits)) == []


def test_resources_are_classes_of_their_own():
    queued = flood("alice", 2, "GPU") + flood("alice", 2, "CPU") + flood("bob", 1, "GPU")
    running = Counter({("CPU", "bob"): 1})
    chosen = to_dispatch(queued, running, {("GPU", "alice"): 1.0}, Limits({"CPU": 2, "GPU": 1}))
    assert ids(chosen) == ["bob-GPU-0", "alice-0"]
    assert [job.resource for job in chosen] == ["GPU", "CPU"]


def test_weights_divide_the_running_count():
    limits = Limits({"CPU": 6}, weights={"fraud-team": 2})
    queued = flood("fraud-team", 10) + flood("bob", 10)
    chosen = to_dispatch(queued, Counter(), {}, limits)
    assert Counter(job.owner for job in chosen) == {"fraud-team": 4, "bob": 2}
    # with as many running as bob, the heavier owner still goes first
    running = Counter({("CPU", "fraud-team"): 1, ("CPU", "bob"): 1})
    assert ids(to_dispatch(queued, running, {}, Limits({"CPU": 3}, weights={"fraud-team": 2}))) == ["fraud-team-0"]


def test_an_owners_own_jobs_keep_their_order():
    queued = [Queued("a2", "alice", "CPU"), Queued("b1", "bob", "CPU"), Queued("a1", "alice", "CPU")]
    assert drain(queued, Limits({"CPU": 1})) == ["a2", "b1", "a1"]
