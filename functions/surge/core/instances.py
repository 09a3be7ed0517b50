"""The EC2 instances under an ECS service, decided with its tasks (pure; README "ECS on EC2").

An ECS service on EC2 capacity can only run the tasks its instances have room for: raising the desired count
without instances leaves the new tasks waiting for placement until the group grows, minutes later. So one
decision sizes both, from the same task numbers:

- instances needed = ceil(max(desired tasks, running tasks, new task target) / tasks_per_instance)
  + spare_instances, at least `min_instances`, at most the group's MaxSize (the plan says when MaxSize forbids
  more). The group is raised in the same iteration as the tasks, before them (tasks wait for placement,
  instances do not wait for tasks);
- on scale-in the tasks go first: while the desired or running tasks still need the instances, they stay; once
  the tasks are down (a later iteration), the instances follow, and only instances that run no task
  (running and pending both 0) and are not protected from scale-in are ever removed;
- with the capacity provider's managed scaling ENABLED, Surge never lowers the group's desired count: it raises
  MinSize (and DesiredCapacity to at least that) to what it needs, and on scale-in lowers MinSize back toward
  `min_instances`, leaving idle instances to managed scaling (whose managed termination protection keeps the
  instances that run tasks). With managed scaling off, or a group given directly, Surge drives the desired
  count itself: up at once, down only by removing idle instances (drained, then terminated with the desired
  count decremented).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from surge.core.config import LinkedInstances


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContainerInstance(_Model):
    """One ECS container instance of the cluster on the linked group (DescribeContainerInstances)."""

    instance_id: str = Field(min_length=1, description="the EC2 instance id")
    arn: str = Field(min_length=1, description="the container instance ARN")
    status: str = Field(description="ACTIVE, DRAINING, REGISTERING, ...")
    running_tasks: int = Field(ge=0)
    pending_tasks: int = Field(ge=0)
    protected_from_scale_in: bool = Field(default=False, description="the ASG's instance scale-in protection")

    @property
    def runs_tasks(self) -> bool:
        return self.running_tasks > 0 or self.pending_tasks > 0

    @property
    def removable(self) -> bool:
        """Only an instance that runs no task (running and pending both 0) and is not protected."""
        return not self.runs_tasks and not self.protected_from_scale_in and self.status in ("ACTIVE", "DRAINING")


class LinkedGroup(_Model):
    """What was read of a linked target's Auto Scaling group (and its capacity provider, when configured)."""

    group_name: str
    desired_instances: int = Field(ge=0)
    in_service_instances: int = Field(ge=0)
    min_size: int = Field(ge=0)
    max_size: int = Field(ge=0)
    managed_scaling: bool = Field(description="the capacity provider's managed scaling is ENABLED")
    managed_termination_protection: bool = False
    container_instances: list[ContainerInstance] | None = Field(
        default=None, description="read only when Surge drives the group itself (managed scaling off)"
    )


class LinkedReading(_Model):
    """A linked target's group as ReadSignals found it: the group, or why it could not be used.

    `error`: the read failed (an API error): the instances stay as they are, the tasks still scale.
    `invalid`: the configuration does not fit what is deployed (no such group, a Fargate service, spare above
    MaxSize): the message names the field, and nothing changes for the target."""

    group: LinkedGroup | None = None
    error: str | None = None
    invalid: str | None = None


class InstancePlan(_Model):
    """The instance side of one decision: what the linked group should be."""

    group_name: str
    managed_scaling: bool
    current_instances: int = Field(description="the group's desired count as read")
    current_min_size: int
    tasks_for_sizing: int = Field(description="max(desired, running, new target) tasks")
    needed_instances: int = Field(description="what those tasks need plus spare, before MaxSize")
    target_instances: int = Field(description="needed, at least min_instances, at most MaxSize")
    desired_instances: int = Field(description="the group's desired count once applied")
    min_size: int = Field(description="the group's MinSize once applied")
    terminate: list[ContainerInstance] = Field(
        default_factory=list, description="idle instances to drain and terminate (managed scaling off)"
    )
    limited_by_max: bool = False
    explanation: str

    @property
    def grows(self) -> bool:
        return self.desired_instances > self.current_instances or self.min_size > self.current_min_size

    @property
    def shrinks(self) -> bool:
        return bool(self.terminate) or self.min_size < self.current_min_size

    @property
    def changes(self) -> bool:
        return self.grows or self.shrinks

    @property
    def instances_after(self) -> int:
        """The group's instances once applied (desired minus those removed)."""
        return self.desired_instances - len(self.terminate)


def instances_for_tasks(tasks: int, linked: LinkedInstances) -> int:
    """ceil(tasks / tasks_per_instance) + spare_instances."""
    return math.ceil(max(0, tasks) / linked.tasks_per_instance) + linked.spare_instances


def plan_instances(
    linked: LinkedInstances,
    group: LinkedGroup,
    *,
    desired_tasks: int,
    running_tasks: int,
    target_tasks: int | None,
    allow_scale_in: bool,
) -> InstancePlan:
    """The instance side of a decision (see the module docstring). `target_tasks` None: the tasks keep their
    count. `allow_scale_in` False: the instances may only grow (a scale-in waits for its confirmed branch)."""
    sizing = max(desired_tasks, running_tasks, target_tasks if target_tasks is not None else desired_tasks)
    needed = instances_for_tasks(sizing, linked)
    wanted = max(needed, linked.min_instances)
    target = min(wanted, group.max_size)
    limited = target < needed
    current = group.desired_instances
    terminate: list[ContainerInstance] = []
    if group.managed_scaling:
        # Surge holds the floor (MinSize) and never lowers the desired count: managed scaling removes idle
        # instances itself, and its managed termination protection keeps the ones that run tasks.
        min_size = target if target > group.min_size or allow_scale_in else group.min_size
        desired = max(current, min_size)
    else:
        min_size = group.min_size
        desired = max(current, target)
        floor = max(target, group.min_size)
        if allow_scale_in and current > floor:
            idle = sorted((i for i in group.container_instances or [] if i.removable), key=lambda i: i.instance_id)
            terminate = idle[: current - floor]
    plan = InstancePlan(
        group_name=group.group_name,
        managed_scaling=group.managed_scaling,
        current_instances=current,
        current_min_size=group.min_size,
        tasks_for_sizing=sizing,
        needed_instances=needed,
        target_instances=target,
        desired_instances=desired,
        min_size=min_size,
        terminate=terminate,
        limited_by_max=limited,
        explanation="",
    )
    return plan.model_copy(update={"explanation": _explain(plan, linked, group, allow_scale_in)})


def _explain(plan: InstancePlan, linked: LinkedInstances, group: LinkedGroup, allow_scale_in: bool) -> str:
    current, after = plan.current_instances, plan.instances_after
    limit = (
        f" (MaxSize {group.max_size} forbids the {plan.needed_instances} that {plan.tasks_for_sizing} tasks need)"
        if plan.limited_by_max
        else ""
    )
    if plan.managed_scaling:
        if plan.min_size > plan.current_min_size:
            return (
                f"instances {current} -> {after}{limit} (group MinSize {plan.current_min_size} -> {plan.min_size}; "
                "managed scaling does the rest)"
            )
        if plan.min_size < plan.current_min_size:
            return (
                f"group MinSize {plan.current_min_size} -> {plan.min_size} ({plan.tasks_for_sizing} tasks need "
                f"{plan.needed_instances} instances; managed scaling removes the idle ones)"
            )
    elif plan.desired_instances > current:
        return f"instances {current} -> {after}{limit}"
    elif plan.terminate:
        short = current - max(plan.target_instances, group.min_size) - len(plan.terminate)
        rest = f" ({short} more once they run no task)" if short > 0 else ""
        return f"instances {current} -> {after}: {len(plan.terminate)} idle instances removed{rest}"
    if allow_scale_in and not plan.managed_scaling and current > max(plan.target_instances, group.min_size):
        return f"instances stay {current}: none of the {current - plan.target_instances} surplus runs no task yet"
    return f"instances stay {current}{limit}"
