"""Who may do what: the one place the service decides it, called by the dependencies before any handler.

    read a job, change it (cancel, ship, unship)   its owner is the principal or one of its teams; admins: any
    submit, validate, dry-run a spec               metadata.owner is the principal or one of its teams, and
                                                   every data path lies under the principal's data_prefixes
    explain a model                                it may read the training job that made the model, and
                                                   the data to explain lies under its data_prefixes
    publish a trainer binary                       principals with `publish: true`, and admins
    set a model's ship policy                      its owner is the principal or one of its teams; admins: any;
                                                   owner_may_override: admins only
    ship past the ship gate (an override)          admins; the model's owners where its policy allows it
    list jobs, the dashboard                       only jobs the principal may read

A job the principal may not read is answered as if it did not exist.
"""

from __future__ import annotations

from railyard.api.auth import Principal
from railyard.api.data_access import check_data_access, check_paths, prefixes_of
from railyard.api.problems import Forbidden, NotFound
from railyard.api.store.models import Job, ShipPolicy
from railyard.spec import TrainingSpec


def may_read(principal: Principal, job: Job) -> bool:
    return principal.may_act_as(job.owner)


def authorize_job(principal: Principal, job: Job | None, job_id: str) -> Job:
    """The job, or 404 when it does not exist or is not the principal's to see."""
    if job is None or not may_read(principal, job):
        raise NotFound(f"no job {job_id}")
    return job


def authorize_submission(principal: Principal, spec: TrainingSpec) -> None:
    if not principal.may_act_as(spec.metadata.owner):
        raise Forbidden(f"{principal.owner} may not submit jobs owned by {spec.metadata.owner}")
    check_data_access(spec, prefixes_of(principal))


def authorize_explanation(principal: Principal, training: Job | None, named: str, data: str) -> Job:
    """The training job whose model is to be explained: 404 (`no {named}`) when the principal may not read it,
    as for any job; then 403 when the data lies outside the principal's data prefixes."""
    if training is None or not may_read(principal, training):
        raise NotFound(f"no {named}")
    check_paths([("data", data)], prefixes_of(principal))
    return training


def authorize_publish(principal: Principal) -> None:
    if not (principal.publish or principal.admin):
        raise Forbidden(f"{principal.owner} may not publish binaries; that needs `publish: true` in the tokens file")


def authorize_ship_policy(principal: Principal, owner: str, owner_may_override: bool) -> None:
    if not principal.may_act_as(owner):
        raise Forbidden(f"{principal.owner} may not set the ship policy of models owned by {owner}")
    if owner_may_override and not principal.unrestricted:
        raise Forbidden("only an admin may let a model's owners ship past its ship policy (owner_may_override)")


def authorize_override(principal: Principal, policy: ShipPolicy) -> None:
    if not (principal.unrestricted or (policy.owner_may_override and principal.may_act_as(policy.owner))):
        raise Forbidden(f"{principal.owner} may not ship past the ship policy of {policy.model_name}: that needs an admin"
                        + ("" if policy.owner_may_override else ", or a policy with owner_may_override"))
