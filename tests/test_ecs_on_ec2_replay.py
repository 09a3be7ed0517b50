"""ECS on EC2 in the replay world (issue 14): tasks on the slots of an Auto Scaling group's instances, the capacity
provider's managed scaling, the baseline and the oracle on it, the scenario's `target.instances` block.

Unless a test says otherwise the fleet has 2 task slots per instance, tasks start in 10 s and instances in 30 s;
every expected number is worked out in the comments.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scaler_support import START
from surge.adapters import clients
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.replay.kpis import policy_result
from surge_cli.replay.policies import POLICIES
from surge_cli.replay.policies.baselines import run_oracle, run_static, run_target_tracking
from surge_cli.replay.policies.common import drive
from surge_cli.replay.policies.surge import DesiredRecorder, LinkedWorld, _create_target
from surge_cli.replay.scenario import (
    CLUSTER,
    LINKED_CAPACITY_PROVIDER,
    LINKED_GROUP,
    LoadedScenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)
from surge_cli.replay.world import (
    LinkedFleet,
    ManagedScaling,
    Units,
    capacity_provider_reservation,
)

SCENARIOS = Path(__file__).parents[1] / "scenarios"
BUNDLED = SCENARIOS / "ecs-on-ec2-push.json"


def fleet(**changes: int) -> LinkedFleet:
    values = {
        "initial_tasks": 2,
        "task_startup_seconds": 10,
        "tasks_per_instance": 2,
        "instance_startup_seconds": 30,
        "initial_instances": 1,
        "min_instances": 1,
        "max_instances": 10,
        **changes,
    }
    return LinkedFleet(**values)


def linked_scenario(
    *,
    duration: int,
    rps: list[float],
    resolution: int = 60,
    target: dict[str, Any] | None = None,
    instances: dict[str, Any] | None = None,
    start: str = "2026-01-21T20:00:00+09:00",
) -> LoadedScenario:
    document: dict[str, Any] = {
        "name": "linked",
        "start": start,
        "duration_seconds": duration,
        "target": {
            "kind": "ecs",
            "initial_units": 4,
            "min_units": 4,
            "max_units": 40,
            "unit_capacity_rps": 100,
            "startup_seconds": 10,
            "instances": {
                "tasks_per_instance": 2,
                "startup_seconds": 30,
                "initial_units": 2,
                "min_units": 2,
                "max_units": 20,
                **(instances or {}),
            },
            **(target or {}),
        },
        "traffic": {"rps": rps, "resolution_seconds": resolution},
        "config": {"target_utilization": 0.5, "latency": "none"},
    }
    return parse_scenario(document, base_dir=SCENARIOS)


# ------------------------------------------------------------------------------------------- the fleet


def test_a_task_waits_for_a_free_slot_on_an_instance_in_service_then_takes_its_own_startup() -> None:
    f = fleet()
    f.set_desired(0, 4)  # 2 more tasks, no free slot: both wait
    assert (f.desired_units, f.in_service_units, f.pending_units) == (4, 2, 2)
    f.update_group(5, desired=2)  # an instance launched at 5 comes into service at 35
    for t in (6, 34):
        f.advance(t)
        assert f.pending_units == 2, t
    f.advance(35)  # placed at 35, serving from 45
    assert (f.pending_units, f.placed_units, f.in_service_units) == (0, 4, 2)
    f.advance(44)
    assert f.in_service_units == 2
    f.advance(45)
    assert f.in_service_units == 4


def test_served_capacity_counts_running_tasks_only() -> None:
    loaded = linked_scenario(duration=120, rps=[1_000, 1_000])

    class RaiseAtTen:
        def tick(self, t_seconds: int, fleet: Units) -> None:
            if t_seconds == 10:
                fleet.set_desired(t_seconds, 10)

    run = drive("raise", loaded, RaiseAtTen(), None, managed_scaling=False)
    at = {s.t_seconds: s for s in run.seconds}
    # 10 desired at 10, 4 slots (2 instances x 2): 4 running, 6 waiting, 4 x 100 rps served of 1,000
    assert (at[11].desired_units, at[11].in_service_units, at[11].pending_units) == (10, 4, 6)
    assert at[11].capacity_rps == 400
    assert at[11].served_rps == 400
    assert all(s.capacity_rps == s.in_service_units * 100 for s in run.seconds)


def test_an_instance_running_a_task_is_never_terminated_and_goes_once_its_last_task_stops() -> None:
    f = fleet(initial_tasks=5, initial_instances=3)  # binpacked: 2 + 2 + 1
    f.set_desired(0, 3)  # running tasks go from the emptiest instance: 2 + 1 + 0
    assert sorted(len(i.tasks_ready_at) for i in f.instances) == [0, 1, 2]
    held = [i for i in f.instances if i.tasks_ready_at]
    f.update_group(1, min_size=1, desired=1)  # only the idle instance can go
    assert len(f.instances) == 2
    assert all(i in f.instances for i in held)
    f.set_desired(2, 2)  # the instance with 1 task empties: the group goes to its desired 1
    assert len(f.instances) == 1
    assert len(f.instances[0].tasks_ready_at) == 2


def test_lowering_tasks_removes_waiting_then_starting_then_running_ones() -> None:
    f = fleet(initial_tasks=2, initial_instances=2)
    f.set_desired(0, 3)  # 1 starting (ready at 10) on the free instance
    f.set_desired(1, 6)  # 1 more starting (ready at 11), 2 waiting
    assert (f.pending_units, f.placed_units, f.in_service_units) == (2, 4, 2)
    f.set_desired(2, 3)  # 2 waiting go, then the newest starting one
    assert (f.pending_units, f.placed_units) == (0, 3)
    f.advance(10)
    assert f.in_service_units == 3  # the one that kept starting serves from 10
    f.set_desired(10, 1)
    assert (f.placed_units, f.in_service_units) == (1, 1)


def test_set_desired_capacity_outside_the_limits_is_refused_and_update_group_raises_desired_to_min_size() -> None:
    f = fleet(max_instances=4)
    assert not f.set_desired_capacity(0, 5)
    assert f.group_desired == 1
    assert f.update_group(0, min_size=3)
    assert (f.group_min, f.group_desired, len(f.instances)) == (3, 3, 3)
    assert not f.update_group(0, desired=2)  # below MinSize: refused, nothing changes
    assert f.group_desired == 3


def test_terminating_a_drained_instance_takes_an_idle_one_and_never_goes_below_min_size() -> None:
    f = fleet(initial_tasks=2, initial_instances=3, min_instances=2)  # 2 + 0 + 0
    assert f.terminate_instance(0, decrement_desired=True)
    assert (f.group_desired, len(f.instances)) == (2, 2)
    assert not f.terminate_instance(0, decrement_desired=True)  # desired would go below MinSize 2
    assert f.terminate_instance(0, decrement_desired=False)  # the group replaces it
    assert len(f.instances) == 2
    assert sum(len(i.tasks_ready_at) for i in f.instances) == 2


# -------------------------------------------------------------------------------------- managed scaling


def test_capacity_provider_reservation_and_its_special_cases() -> None:
    assert capacity_provider_reservation(3, 4) == 75
    assert capacity_provider_reservation(6, 4) == 150
    assert capacity_provider_reservation(2, 0) == 200  # no instance, tasks waiting
    assert capacity_provider_reservation(0, 0) == 100  # nothing needed, nothing running


def test_managed_scaling_scales_out_at_the_first_datapoint_above_target_and_the_instances_serve_after_startup() -> None:
    f, managed = fleet(), ManagedScaling()
    for t in range(0, 200):
        f.advance(t)
        if t == 5:
            f.set_desired(t, 7)  # 5 waiting: M = 1 busy + ceil(5 / 2) = 4, N = 1: 400 %
        managed.tick(t, f)
        if t < 60:
            assert f.group_desired == 1, t
    assert managed.actions == [(60, 4)]  # the datapoint of minute 60, one datapoint is enough
    f2, managed2 = fleet(), ManagedScaling()
    for t in range(0, 91):
        f2.advance(t)
        if t == 5:
            f2.set_desired(t, 7)
        managed2.tick(t, f2)
        if t == 89:
            assert (f2.pending_units, f2.in_service_units) == (5, 2)  # launched at 60, in service at 90
    assert (f2.pending_units, f2.in_service_units) == (0, 2)  # placed at 90, serving from 100


def test_managed_scaling_scales_in_after_15_datapoints_below_target_in_half_steps_and_never_below_min_size() -> None:
    f = fleet(initial_tasks=2, initial_instances=8, min_instances=3)  # 1 busy, 7 idle: 12.5 % from the start
    managed = ManagedScaling(warmup_seconds=0)
    for t in range(0, 60 * 30):
        f.advance(t)
        managed.tick(t, f)
    # the alarm is full of steady datapoints before the replay (12.5 %): first scale-in at 0, 8 -> 4 (half),
    # then 4 -> 3 a minute later (MinSize 3, though 1 instance would do), then nothing more
    assert managed.actions == [(0, 4), (60, 3)]
    assert (f.group_desired, len(f.instances)) == (3, 3)


def test_managed_scaling_waits_for_fifteen_fresh_datapoints_and_for_warm_up() -> None:
    f, managed = fleet(initial_tasks=4, initial_instances=2), ManagedScaling()  # 100 %: steady
    for t in range(0, 60 * 40):
        f.advance(t)
        if t == 30:
            f.set_desired(t, 2)  # 1 instance idle from 30: 50 %
        managed.tick(t, f)
    # below target from the datapoint of 60: 15 of them by 60 + 14 x 60 = 900; the initial instances came into
    # service at 0, long past their 300 s warm-up
    assert managed.actions == [(900, 1)]
    # 4 instances in service, 1 busy (25 %: the alarm is in ALARM from the start), and a 5th launched at 0: it
    # serves from 30 and warms up until 330, so the first scale-in waits for the datapoint of 360 (5 -> 3, half)
    f, managed = fleet(initial_tasks=2, initial_instances=4), ManagedScaling()
    for t in range(0, 60 * 10):
        f.advance(t)
        if t == 0:
            f.update_group(t, desired=5)
        managed.tick(t, f)
    assert managed.actions == [(360, 3), (420, 2), (480, 1)]


# ------------------------------------------------------------------------------------ fleet invariants

OPERATIONS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),
        st.sampled_from(["tasks", "group", "min", "set", "terminate"]),
        st.integers(min_value=0, max_value=30),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(OPERATIONS, st.booleans())
def test_the_linked_fleet_keeps_its_invariants_under_any_calls(
    operations: list[tuple[int, str, int]], managed_scaling: bool
) -> None:
    """Whatever the service and the group are asked, second by second (with or without managed scaling):
    placed + waiting tasks = desired; no instance holds more than its slots; tasks sit only on instances in
    service; the group's desired count stays within its limits; instances are never fewer than the desired count
    unless ... never: launched at once; never fewer than those running a task; and an instance is removed only
    with no task on it."""
    f = fleet(initial_tasks=4, initial_instances=3, min_instances=1, max_instances=8)
    managed = ManagedScaling() if managed_scaling else None
    schedule = sorted((offset * 7, kind, value) for offset, kind, value in operations)
    index = 0
    for t in range(0, 300):
        before = list(f.instances)
        f.advance(t)
        while index < len(schedule) and schedule[index][0] <= t:
            _, kind, value = schedule[index]
            index += 1
            if kind == "tasks":
                f.set_desired(t, value)
            elif kind == "group":
                f.update_group(t, desired=value)
            elif kind == "min":
                f.update_group(t, min_size=value % 9)
            elif kind == "set":
                f.set_desired_capacity(t, value % 12)
            else:
                f.terminate_instance(t, decrement_desired=value % 2 == 0)
        if managed is not None:
            managed.tick(t, f)
        removed = [i for i in before if i not in f.instances]
        assert all(not i.tasks_ready_at for i in removed)
        assert f.placed_units + f.pending_units == f.desired_units
        assert all(len(i.tasks_ready_at) <= f.tasks_per_instance for i in f.instances)
        assert all(i.in_service_at_seconds <= t for i in f.instances if i.tasks_ready_at)
        assert f.group_min <= f.group_desired <= f.group_max
        busy = sum(1 for i in f.instances if i.tasks_ready_at)
        assert len(f.instances) == max(f.group_desired, busy)
        free_slots = sum(f.tasks_per_instance - len(i.tasks_ready_at) for i in f.in_service_instances())
        assert f.pending_units == 0 or free_slots == 0  # a task waits only while no instance in service has a slot


@settings(max_examples=50, derandomize=True, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3_000), min_size=2, max_size=12),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=120),
)
def test_the_oracle_never_leaves_a_task_waiting_and_serves_everything_after_both_startups(
    rps: list[float], task_startup: int, instance_startup: int
) -> None:
    loaded = linked_scenario(
        duration=60 * len(rps),
        rps=rps,
        target={"startup_seconds": task_startup},
        instances={"startup_seconds": instance_startup},
    )
    run = run_oracle(loaded)
    reach = task_startup + instance_startup
    for second in run.seconds[reach:]:
        assert second.pending_units == 0, second
        assert second.capacity_rps >= min(second.demand_rps, 40 * 100), second


# ------------------------------------------------------------------------------ baseline, oracle, KPIs


def test_the_baseline_on_the_bundled_scenario_waits_for_managed_scaling_and_the_oracle_does_not() -> None:
    loaded = load_scenario(BUNDLED)
    baseline, oracle = run_target_tracking(loaded), run_oracle(loaded)
    base, best = policy_result(baseline, loaded), policy_result(oracle, loaded)
    # target tracking raises the tasks 3 datapoints after the spike; they wait for instances that managed scaling
    # asks for at the next minute and that serve 180 s later
    first_task_raise = baseline.changes[0][0]
    waiting = [s.t_seconds for s in baseline.seconds if s.pending_units]
    assert waiting[0] == first_task_raise
    group = [s for s in baseline.seconds if s.group_desired is not None and s.group_desired > 5]
    assert group[0].t_seconds == first_task_raise + (-first_task_raise) % 60
    assert base["task_seconds_pending"] > 0
    assert best["task_seconds_pending"] == 0
    assert best["served_fraction"] == 1.0
    assert base["served_fraction"] < 0.9
    assert base["instance_hours"] > best["instance_hours"]
    assert best["instance_hours_vs_oracle"] == 1.0
    assert base["instance_hours_vs_oracle"] == pytest.approx(base["instance_hours"] / best["instance_hours"])
    assert max(s.instances or 0 for s in baseline.seconds) <= 60
    assert min(s.instances or 0 for s in baseline.seconds) >= 5


def test_the_oracle_asks_for_instances_both_startups_ahead_and_for_tasks_one_startup_ahead() -> None:
    # 400 rps from minute 5: 4 tasks at 100 rps, 2 instances at 2 slots; before it 100 rps (floor 4 tasks/2 inst)
    loaded = linked_scenario(
        duration=600, rps=[100] * 5 + [1_000] * 5, target={"initial_units": 4}, instances={"startup_seconds": 90}
    )
    run = run_oracle(loaded)
    group_raise = next(s.t_seconds for s in run.seconds if (s.group_desired or 0) > 2)
    task_raise = run.changes[0][0]
    assert group_raise == 300 - 90 - 10  # 10 tasks need 5 instances: asked 100 s ahead
    assert task_raise == 300 - 10
    assert policy_result(run, loaded)["served_fraction"] == 1.0


def test_linked_kpis_appear_only_for_a_scenario_with_instances() -> None:
    plain = load_scenario(SCENARIOS / "artist-post.json")
    result = policy_result(run_static(plain), plain)
    assert not {"task_seconds_pending", "instance_hours", "instance_hours_vs_oracle"} & result.keys()
    linked = load_scenario(BUNDLED)
    result = policy_result(run_static(linked), linked)
    assert result["task_seconds_pending"] == 0  # the static 20 tasks fit the 5 instances
    assert result["instance_hours"] == pytest.approx(5.0)  # 5 instances for an hour


def test_every_baseline_runs_on_the_linked_world() -> None:
    loaded = load_scenario(BUNDLED)
    for name in ("target-tracking", "fast-autoscaler", "static", "oracle"):
        run = POLICIES[name](loaded, None)
        assert all(s.instances is not None for s in run.seconds), name
        assert all(s.in_service_units <= (s.instances_in_service or 0) * 4 for s in run.seconds), name


# --------------------------------------------------------------------------------------- the scenario


def _bundled_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(BUNDLED.read_text())
    return document


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["target"].update(kind="asg"), "target.instances: only for kind 'ecs'"),
        (lambda d: d["target"]["instances"].update(tasks_per_instance=0), "target.instances.tasks_per_instance"),
        (lambda d: d["target"]["instances"].update(startup_seconds=4_000), "target.instances.startup_seconds"),
        (lambda d: d["target"]["instances"].update(min_units=61), "min_units (61) must be <= max_units (60)"),
        (lambda d: d["target"]["instances"].update(initial_units=4), "initial_units (4) must be within"),
        (lambda d: d["target"]["instances"].update(slots=2), "target.instances.slots: unknown key"),
        (lambda d: d["target"]["instances"].pop("tasks_per_instance"), "target.instances.tasks_per_instance"),
        (lambda d: d["target"].update(initial_units=21), "at most instances.initial_units x instances.tasks_per"),
    ],
)
def test_a_bad_instances_block_is_one_line_naming_the_field(change, named: str) -> None:  # type: ignore[no-untyped-def]
    document = _bundled_document()
    change(document)
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(document, base_dir=SCENARIOS)
    message = str(raised.value)
    assert "\n" not in message
    assert named in message


def test_surge_replay_exits_2_with_one_line_on_a_bad_instances_block(tmp_path: Path) -> None:
    document = _bundled_document()
    document["target"]["instances"]["tasks_per_instance"] = 0
    document["traffic"]["csv"] = str(SCENARIOS / "ecs-on-ec2-push.csv")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(app, ["replay", str(path), "--policy", "static"])
    assert result.exit_code == 2
    assert "target.instances.tasks_per_instance" in result.output
    assert "greater than or equal to 1" in result.output
    assert "Traceback" not in result.output


def test_the_bundled_scenario_maps_onto_surges_linked_instances() -> None:
    loaded = load_scenario(BUNDLED)
    assert loaded.scenario.linked_instances() == {
        "capacity_provider": LINKED_CAPACITY_PROVIDER,
        "tasks_per_instance": 4,
        "min_instances": 5,
        "instance_startup_seconds": 180,
    }
    assert load_scenario(SCENARIOS / "artist-post.json").scenario.linked_instances() is None


# ------------------------------------------------------------------------------ Surge's calls, on moto


def test_surges_group_calls_are_played_at_once_and_managed_scaling_is_written_back_into_moto(aws: LocalAws) -> None:
    loaded = linked_scenario(duration=600, rps=[100] * 10, start=START.isoformat())
    _create_target(aws, loaded.scenario)
    provider = aws.client("ecs").describe_capacity_providers(capacityProviders=[LINKED_CAPACITY_PROVIDER])
    (described,) = provider["capacityProviders"]
    assert described["autoScalingGroupProvider"]["managedScaling"]["status"] == "ENABLED"
    assert described["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 100
    assert world.auto_scaling_group(aws, LINKED_GROUP)["DesiredCapacity"] == 2
    recorder = DesiredRecorder(aws)
    recorder.install()
    played = LinkedWorld(aws, loaded, recorder)
    played.start()
    aws.run_until(START + timedelta(seconds=10.2))
    clients.autoscaling().update_auto_scaling_group(AutoScalingGroupName=LINKED_GROUP, MinSize=3, DesiredCapacity=3)
    clients.ecs().update_service(cluster=CLUSTER, service="api", desiredCount=9)  # 6 slots once the 3rd serves
    aws.run_until(START + timedelta(seconds=130))
    assert [call.operation for _, call in recorder.group_calls] == ["UpdateAutoScalingGroup"]
    at = {s.t_seconds: s for s in played.rows}
    assert (at[11].group_desired, at[11].instances, at[11].pending_units) == (3, 3, 5)
    assert (at[41].instances_in_service, at[41].pending_units) == (3, 3)  # the 3rd instance served from 41
    # minute 60: 3 waiting tasks need 2 more instances (M = 3 + 2, N = 3): managed scaling asks for 5, and the
    # world writes it into moto's group half a second later, for Surge to read
    assert at[60].group_desired == 5
    assert played.managed.actions == [(60, 5)]
    assert world.auto_scaling_group(aws, LINKED_GROUP)["DesiredCapacity"] == 5
    assert world.auto_scaling_group(aws, LINKED_GROUP)["MinSize"] == 3
