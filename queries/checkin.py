"""What policies and live queries add to an osquery check-in (fleet-protocol §1.4, §1.5).

`add_pending` extends a distributed/read answer; a distributed/write is handled in three steps
so the host's data is written in one transaction and websockets hear only committed results:
`collect` (no writes), `save` (inside the transaction), `after_commit` (publish).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from hosts.distributed import PendingQueries, WriteResults
from hosts.ingest import Step
from hosts.models import Host
from queries import campaigns, policies


def add_pending(host: Host, pending: PendingQueries, now: datetime) -> None:
    policies.add_pending(host, pending, now)
    campaigns.add_pending(host, pending)


@dataclass
class Answers:
    policy: dict[int, bool | None] = field(default_factory=dict)
    campaign: list[campaigns.CampaignAnswer] = field(default_factory=list)


def collect(host: Host, results: WriteResults, now: datetime) -> Answers:
    return Answers(policy=policies.collect(results), campaign=campaigns.collect(host, results))


def save_steps(host: Host, answers: Answers, now: datetime) -> list[Step]:
    """The writes of the answers, named, so a caller can isolate each in a savepoint."""
    steps: list[Step] = []
    if answers.policy:
        steps.append(("policies", partial(policies.save, host, answers.policy, now)))
    if answers.campaign:
        steps.append(("campaigns", partial(campaigns.save, host, answers.campaign, now)))
    return steps


def drop(answers: Answers, step: str) -> None:
    """Forget the answers of a step that could not be stored, so nothing publishes them."""
    if step == "campaigns":
        answers.campaign.clear()


def after_commit(host: Host, answers: Answers) -> None:
    if answers.campaign:
        campaigns.publish(host, answers.campaign)
