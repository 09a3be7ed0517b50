"""One iteration's plan over every target, and the route the state machine takes with it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from surge.core.decision import Action, Decision, Signal
from surge.core.signals import UtcDatetime


class Route(StrEnum):
    """The branch of the state machine's `RouteDecision` Choice state."""

    CALENDAR = "calendar"  # an event raises (or restores) a group's limits, or is the reason to scale out
    SCALE_OUT = "scale_out"  # at least one target must grow now
    SCALE_IN = "scale_in"  # only shrinking is wanted: cool down, re-read, confirm
    STEADY = "steady"  # nothing to change


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    route: Route
    decisions: list[Decision]


def route_for(decisions: list[Decision]) -> Route:
    """Growing always wins over shrinking: scale-ins wait for a later, quieter iteration.

    A scale-in that also changes a group's limits (restoring them after an event) takes the scale-in route,
    so its limits and its lower desired count are applied together, after the cooldown and the second look.
    """
    not_shrinking = [d for d in decisions if d.action is not Action.SCALE_IN]
    growing = [d for d in not_shrinking if d.changes_desired or d.grows_instances]
    if any(d.changes_limits for d in not_shrinking) or any(d.winner is Signal.CALENDAR for d in growing):
        return Route.CALENDAR
    if growing:
        return Route.SCALE_OUT
    if any(
        d.action is Action.SCALE_IN and (d.changes_desired or d.changes_limits or d.shrinks_instances)
        for d in decisions
    ):
        return Route.SCALE_IN
    return Route.STEADY


def make_plan(decisions: list[Decision]) -> Plan:
    return Plan(route=route_for(decisions), decisions=decisions)


class AppliedChange(BaseModel):
    """What ApplyCapacity did (or, in dry-run, would have done) for one target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_id: str
    from_units: int | None
    to_units: int | None
    group_limits_set: bool
    api_calls: list[str]
    dry_run: bool
    instances_from: int | None = None
    instances_to: int | None = None
    applied_at: UtcDatetime
    decision: Decision
