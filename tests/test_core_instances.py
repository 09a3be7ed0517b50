"""ECS on EC2: the instances under a service, decided with its tasks (surge.core.instances, decision.with_instances).

By example (the numbers of the issue: 4 tasks per instance, tasks 20 -> 130 need 33 instances) and by hypothesis:
instances never fewer than the running and desired tasks need (except while MaxSize forbids it, and then the plan
says so), never above MaxSize, never below MinSize; scale-in never removes an instance that runs a task or is
protected; the instance side never changes the tasks' decision.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from surge.core.config import LinkedInstances, SurgeConfig, TargetConfig, TargetKind
from surge.core.decision import Action, Reason, decide
from surge.core.errors import describe_validation_error
from surge.core.instances import ContainerInstance, LinkedGroup, LinkedReading, plan_instances
from surge.core.notify import compose
from surge.core.plan import AppliedChange, Route, route_for
from surge.core.signals import CurrentCapacity, RateSample, TargetSignals
from test_core_properties import PROPERTY_SETTINGS, cases

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _linked(**overrides: Any) -> LinkedInstances:
    return LinkedInstances.model_validate(
        {"group_name": "api-instances", "tasks_per_instance": 4, "min_instances": 5, **overrides}
    )


def _target(**linked: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": "api",
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": "api"},
            "instances": _linked(**linked).model_dump(),
            "scaling": {
                "min_units": 20,
                "max_units": 200,
                "unit_capacity_rps": 100,
                "target_utilization": 0.5,
                "trend_max_extra_fraction": 0,
                "scale_in_cooldown_seconds": 300,
                "max_scale_in_step_units": 50,
            },
        }
    )


def _group(desired: int = 5, *, max_size: int = 60, min_size: int = 5, managed: bool = False, **kw: Any) -> LinkedGroup:
    return LinkedGroup(
        group_name="api-instances",
        desired_instances=desired,
        in_service_instances=desired,
        min_size=min_size,
        max_size=max_size,
        managed_scaling=managed,
        **kw,
    )


def _instance(number: int, running: int = 0, pending: int = 0, protected: bool = False) -> ContainerInstance:
    return ContainerInstance(
        instance_id=f"i-{number:04d}",
        arn=f"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/{number:04d}",
        status="ACTIVE",
        running_tasks=running,
        pending_tasks=pending,
        protected_from_scale_in=protected,
    )


def _minutes(rps: float, count: int = 10) -> list[RateSample]:
    return [
        RateSample(start=NOW - timedelta(minutes=count - i), period_seconds=60, requests=rps * 60) for i in range(count)
    ]


def _signals(
    tasks: int, rps: float, group: LinkedGroup | None, *, running: int | None = None, **reading: Any
) -> TargetSignals:
    linked = LinkedReading(group=group, **reading) if group is not None or reading else None
    return TargetSignals(
        target_id="api",
        request_samples=_minutes(rps),
        capacity=CurrentCapacity(
            desired_units=tasks, in_service_units=tasks if running is None else running, linked=linked
        ),
    )


# ------------------------------------------------------------------------------------------------ config


def test_instances_need_exactly_one_way_to_the_group_and_only_on_ecs() -> None:
    with pytest.raises(ValidationError) as both:
        _linked(capacity_provider="api-capacity")
    assert "exactly one of group_name or capacity_provider" in str(both.value)
    with pytest.raises(ValidationError) as neither:
        LinkedInstances.model_validate({"tasks_per_instance": 4, "min_instances": 1})
    assert "exactly one of group_name or capacity_provider" in str(neither.value)
    document = {
        "targets": [
            {
                "id": "web",
                "kind": "asg",
                "asg": {"group_name": "web"},
                "instances": {"group_name": "web", "tasks_per_instance": 4, "min_instances": 1},
                "scaling": {"min_units": 1, "max_units": 5, "unit_capacity_rps": 10},
            }
        ]
    }
    with pytest.raises(ValidationError) as on_asg:
        SurgeConfig.model_validate(document)
    assert "instances: only a target of kind 'ecs'" in describe_validation_error(on_asg.value, model=SurgeConfig)


def test_tasks_per_instance_below_one_is_rejected_naming_the_field_and_its_range() -> None:
    document = {"targets": [_target().model_dump(mode="json")]}
    document["targets"][0]["instances"]["tasks_per_instance"] = 0
    with pytest.raises(ValidationError) as error:
        SurgeConfig.model_validate(document)
    message = describe_validation_error(error.value, model=SurgeConfig)
    assert message.startswith("targets.0.instances.tasks_per_instance:")
    assert message.endswith("allowed: 1 <= value <= 1000")


# ----------------------------------------------------------------------------------------- by example


def test_a_scale_out_asks_for_the_instances_its_tasks_need_first_and_says_the_tasks_wait() -> None:
    # 6,500 rps at 50 rps per task (100 rps at 50 %): 130 tasks; ceil(130 / 4) = 33 instances.
    decision = decide(_target(), _signals(20, 6_500, _group(5)), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_OUT, 130)
    assert decision.instances is not None
    assert (decision.instances.current_instances, decision.instances.desired_instances) == (5, 33)
    assert "tasks 20 -> 130, instances 5 -> 33 (tasks wait for placement)" in decision.explanation
    assert route_for([decision]) is Route.SCALE_OUT


def test_max_size_caps_the_instances_and_the_decision_says_so() -> None:
    decision = decide(_target(), _signals(20, 6_500, _group(5, max_size=30)), NOW)
    assert decision.instances is not None
    assert decision.instances.desired_instances == 30
    assert decision.instances.limited_by_max
    assert "MaxSize 30 forbids the 33 that 130 tasks need" in decision.explanation
    assert decision.desired_units == 130, "the tasks are decided as without instances"


def test_with_managed_scaling_surge_raises_min_size_and_never_lowers_the_desired_count() -> None:
    up = plan_instances(
        _linked(), _group(5, managed=True), desired_tasks=20, running_tasks=20, target_tasks=130, allow_scale_in=False
    )
    assert (up.min_size, up.desired_instances) == (33, 33)
    assert "group MinSize 5 -> 33; managed scaling does the rest" in up.explanation
    # Later, tasks down to 40: MinSize goes back to 10 (ceil(40 / 4)), the desired count stays for managed scaling.
    down = plan_instances(
        _linked(),
        _group(33, min_size=33, managed=True),
        desired_tasks=40,
        running_tasks=40,
        target_tasks=40,
        allow_scale_in=True,
    )
    assert (down.min_size, down.desired_instances, down.terminate) == (10, 33, [])
    # Never below min_instances.
    floor = plan_instances(
        _linked(),
        _group(33, min_size=33, managed=True),
        desired_tasks=0,
        running_tasks=0,
        target_tasks=0,
        allow_scale_in=True,
    )
    assert floor.min_size == 5


def test_scale_in_lowers_the_tasks_first_and_the_instances_only_in_a_later_iteration() -> None:
    target = _target()
    busy = [_instance(n, running=4) for n in range(29)] + [_instance(n, running=0) for n in range(29, 33)]
    group = _group(33, container_instances=busy)
    # Demand for 116 tasks (5,800 rps), 130 running: the tasks go first, the instances stay for them.
    first = decide(target, _signals(130, 5_800, group), NOW)
    assert (first.action, first.desired_units) == (Action.SCALE_IN, 116)
    assert first.instances is not None
    assert not first.instances.changes
    assert "tasks 130 -> 116 first, instances stay 33 until those tasks have stopped" in first.explanation
    # A later iteration: the tasks are down to 116 (29 instances hold them): the four idle instances go.
    later = decide(target, _signals(116, 5_800, group), NOW)
    assert (later.action, later.reason) == (Action.SCALE_IN, Reason.SCALE_IN)
    assert later.desired_units == 116
    assert later.instances is not None
    assert [i.instance_id for i in later.instances.terminate] == ["i-0029", "i-0030", "i-0031", "i-0032"]
    assert "instances 33 -> 29" in later.explanation
    assert "after tasks went down to 116" in later.explanation
    assert route_for([later]) is Route.SCALE_IN


def test_scale_in_never_removes_an_instance_that_runs_or_awaits_a_task_or_is_protected() -> None:
    instances = [_instance(0, running=1), _instance(1, pending=1), _instance(2, protected=True), _instance(3)]
    plan = plan_instances(
        _linked(min_instances=0),
        _group(4, min_size=0, container_instances=instances),
        desired_tasks=0,
        running_tasks=0,
        target_tasks=0,
        allow_scale_in=True,
    )
    assert [i.instance_id for i in plan.terminate] == ["i-0003"]
    assert plan.instances_after == 3


def test_no_instance_scale_in_while_the_tasks_are_held_or_a_signal_is_missing() -> None:
    group = _group(33, container_instances=[_instance(n) for n in range(33)])
    no_metric = TargetSignals(
        target_id="api",
        capacity=CurrentCapacity(desired_units=20, in_service_units=20, linked=LinkedReading(group=group)),
    )
    decision = decide(_target(), no_metric, NOW)
    assert (decision.reason, decision.demand_rps) == (Reason.AT_TARGET, None), "at min_units, no demand known"
    assert decision.instances is not None
    assert not decision.instances.shrinks
    # With 30 tasks and no metric the tasks are held (signal_missing): the instances too.
    held = no_metric.model_copy(
        update={"capacity": no_metric.capacity.model_copy(update={"desired_units": 30, "in_service_units": 30})}
    )
    decision = decide(_target(), held, NOW)
    assert decision.reason is Reason.SIGNAL_MISSING
    assert decision.instances is not None
    assert not decision.instances.shrinks


def test_an_unreadable_group_leaves_the_instances_and_the_tasks_still_scale_out() -> None:
    decision = decide(
        _target(), _signals(20, 6_500, None, error="autoscaling:DescribeAutoScalingGroups failed: boom"), NOW
    )
    assert (decision.action, decision.desired_units, decision.instances) == (Action.SCALE_OUT, 130, None)
    assert "instances unchanged: autoscaling:DescribeAutoScalingGroups failed: boom" in decision.explanation
    assert "wait for placement" in decision.explanation


def test_a_target_whose_group_is_wrong_changes_nothing_and_names_the_field() -> None:
    decision = decide(
        _target(), _signals(20, 6_500, None, invalid="instances.group_name: Auto Scaling group 'x' not found"), NOW
    )
    assert decision.reason is Reason.TARGET_UNAVAILABLE
    assert decision.desired_units is None
    assert decision.instances is None
    assert decision.explanation.startswith("instances.group_name: Auto Scaling group 'x' not found")
    assert route_for([decision]) is Route.STEADY


def test_the_notification_names_both_counts_and_which_waited() -> None:
    decision = decide(_target(), _signals(20, 6_500, _group(5)), NOW)
    change = AppliedChange(
        target_id="api",
        from_units=20,
        to_units=130,
        group_limits_set=False,
        api_calls=[],
        dry_run=False,
        applied_at=NOW,
        decision=decision,
        instances_from=5,
        instances_to=33,
    )
    message = compose([change])
    assert message is not None
    assert "api: 20 -> 130 units (scale out)" in message.text
    assert "Instances 5 -> 33 (tasks wait for placement)." in message.text
    idle = _group(33, container_instances=[_instance(n) for n in range(33)])
    later = decide(_target(), _signals(116, 5_800, idle), NOW)
    removed = change.model_copy(
        update={"from_units": 116, "to_units": 116, "decision": later, "instances_from": 33, "instances_to": 29}
    )
    message = compose([removed])
    assert message is not None
    assert "Instances 33 -> 29 after tasks went down to 116." in message.text


# --------------------------------------------------------------------------------------------- properties


@st.composite
def instance_cases(draw: st.DrawFn) -> tuple[LinkedInstances, LinkedGroup, int, int, int | None, bool]:
    max_size = draw(st.integers(0, 80))
    min_size = draw(st.integers(0, max_size))
    desired = draw(st.integers(min_size, max_size))
    instances = [
        ContainerInstance(
            instance_id=f"i-{n:04d}",
            arn=f"arn:ci/{n}",
            status=draw(st.sampled_from(["ACTIVE", "ACTIVE", "DRAINING", "REGISTERING"])),
            running_tasks=draw(st.integers(0, 3)),
            pending_tasks=draw(st.integers(0, 1)),
            protected_from_scale_in=draw(st.booleans()),
        )
        for n in range(desired)
    ]
    group = LinkedGroup(
        group_name="g",
        desired_instances=desired,
        in_service_instances=desired,
        min_size=min_size,
        max_size=max_size,
        managed_scaling=draw(st.booleans()),
        container_instances=instances if draw(st.booleans()) else None,
    )
    linked = LinkedInstances(
        group_name="g",
        tasks_per_instance=draw(st.integers(1, 10)),
        spare_instances=draw(st.integers(0, max(0, max_size))),
        min_instances=draw(st.integers(0, 20)),
    )
    desired_tasks = draw(st.integers(0, 400))
    running_tasks = draw(st.integers(0, 400))
    target_tasks = draw(st.none() | st.integers(0, 400))
    return linked, group, desired_tasks, running_tasks, target_tasks, draw(st.booleans())


@PROPERTY_SETTINGS
@given(instance_cases())
def test_instances_never_fewer_than_the_tasks_need_unless_max_size_forbids_and_then_it_says_so(case: Any) -> None:
    linked, group, desired_tasks, running_tasks, target_tasks, allow = case
    plan = plan_instances(
        linked,
        group,
        desired_tasks=desired_tasks,
        running_tasks=running_tasks,
        target_tasks=target_tasks,
        allow_scale_in=allow,
    )
    tasks = max(desired_tasks, running_tasks, target_tasks if target_tasks is not None else 0)
    needed = math.ceil(tasks / linked.tasks_per_instance) + linked.spare_instances
    # The group ends with at least what the tasks need (with managed scaling, its MinSize holds them) ...
    held = plan.min_size if group.managed_scaling else plan.instances_after
    assert held >= min(needed, group.max_size)
    # ... unless MaxSize forbids it, and then the plan says so.
    assert plan.limited_by_max == (needed > group.max_size)
    if plan.limited_by_max:
        assert f"MaxSize {group.max_size} forbids the {needed} that {tasks} tasks need" in plan.explanation


@PROPERTY_SETTINGS
@given(instance_cases())
def test_scale_in_never_removes_an_instance_that_runs_tasks_and_never_leaves_min_and_max(case: Any) -> None:
    linked, group, desired_tasks, running_tasks, target_tasks, allow = case
    plan = plan_instances(
        linked,
        group,
        desired_tasks=desired_tasks,
        running_tasks=running_tasks,
        target_tasks=target_tasks,
        allow_scale_in=allow,
    )
    assert all(not i.runs_tasks and not i.protected_from_scale_in for i in plan.terminate)
    assert len({i.instance_id for i in plan.terminate}) == len(plan.terminate)
    assert plan.instances_after >= group.min_size
    assert plan.desired_instances <= group.max_size
    assert plan.min_size <= group.max_size
    if group.managed_scaling:
        assert plan.desired_instances >= group.desired_instances, "never lowers managed scaling's desired count"
        assert not plan.terminate
    else:
        assert plan.instances_after >= max(group.min_size, min(group.max_size, linked.min_instances))
    if not allow:
        assert not plan.shrinks


@PROPERTY_SETTINGS
@given(case=cases(kinds=(TargetKind.ECS,), paused=None), tasks_per_instance=st.integers(1, 8))
def test_the_instance_side_never_changes_the_tasks_decision(case: Any, tasks_per_instance: int) -> None:
    """The same target and signals with and without linked instances (a group with room to spare): the tasks are
    decided exactly alike; only the instance side, the explanation and (for an instance-only change) the action
    differ."""
    plain = decide(case.target, case.signals, case.now)
    linked = case.target.model_copy(
        update={"instances": _linked(tasks_per_instance=tasks_per_instance, min_instances=0)}
    )
    signals = case.signals
    if signals.capacity is not None:
        group = _group(500, max_size=1_000, min_size=0, container_instances=[])
        signals = signals.model_copy(
            update={"capacity": signals.capacity.model_copy(update={"linked": LinkedReading(group=group)})}
        )
    decided = decide(linked, signals, case.now)
    assert decided.desired_units == plain.desired_units
    assert decided.next_state == plain.next_state
    assert decided.group_limits == plain.group_limits
    if decided.instances is None or not decided.instances.changes:
        assert (decided.action, decided.reason) == (plain.action, plain.reason)
