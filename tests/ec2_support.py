"""ECS on EC2 on moto: a cluster whose service runs on the instances of an Auto Scaling group.

moto keeps a service's desired and running counts but places none of its tasks on container instances, and
registers no container instance for a new EC2 instance (the ECS agent does that on AWS). `Placement` plays those
two parts with moto's own APIs, nothing else: it registers a container instance for every InService instance of
the group (RegisterContainerInstance), starts the service's tasks on free slots (StartTask, `tasks_per_instance`
per instance, the fullest instance first: ECS's binpack), stops the surplus from the emptiest instance first
(StopTask), and deregisters the container instance of an instance the group no longer has. Every count Surge reads
(runningTasksCount, pendingTasksCount, the group's instances) is then moto's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from surge.core.config import TargetConfig
from surge_cli import world
from surge_cli.localaws import LocalAws

CLUSTER = "prod"
GROUP = "api-instances"
PROVIDER = "api-capacity"
TASK_FAMILY = "api-task"


def linked_target(base: TargetConfig, *, managed: bool, tasks_per_instance: int = 4, **linked: Any) -> TargetConfig:
    instances = {
        **({"capacity_provider": PROVIDER} if managed else {"group_name": GROUP}),
        "tasks_per_instance": tasks_per_instance,
        "min_instances": 1,
        **linked,
    }
    return TargetConfig.model_validate({**base.model_dump(mode="json"), "instances": instances})


def create_linked_world(
    aws: LocalAws, *, tasks: int, instances: int, managed: bool, min_size: int = 1, max_size: int = 20
) -> None:
    """The service `api` on cluster `prod` (desired `tasks`), the group `api-instances` (`instances`), and for
    `managed` the capacity provider `api-capacity` with managed scaling and managed termination protection on."""
    world.create_ecs_service(aws, CLUSTER, "api", desired_units=tasks)
    world.create_auto_scaling_group(aws, GROUP, min_units=min_size, max_units=max_size, desired_units=instances)
    if managed:
        arn = world.auto_scaling_group(aws, GROUP)["AutoScalingGroupARN"]
        ecs = aws.client("ecs")
        ecs.create_capacity_provider(
            name=PROVIDER,
            autoScalingGroupProvider={
                "autoScalingGroupArn": arn,
                "managedScaling": {"status": "ENABLED", "targetCapacity": 100},
                "managedTerminationProtection": "ENABLED",
            },
        )
        ecs.put_cluster_capacity_providers(
            cluster=CLUSTER, capacityProviders=[PROVIDER], defaultCapacityProviderStrategy=[]
        )


@dataclass
class Placement:
    """ECS's scheduler and agent for the linked world (see the module docstring)."""

    aws: LocalAws
    tasks_per_instance: int
    follow_service: bool = True
    tasks: dict[str, list[str]] = field(default_factory=dict)  # container instance ARN -> running task ARNs
    by_instance: dict[str, str] = field(default_factory=dict)  # EC2 instance id -> container instance ARN

    def register_new_instances(self) -> None:
        ecs = self.aws.client("ecs")
        members = {i["InstanceId"] for i in world.auto_scaling_group(self.aws, GROUP)["Instances"]}
        for instance_id in sorted(members - set(self.by_instance)):
            document = json.dumps({"instanceId": instance_id})
            arn = ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)[
                "containerInstance"
            ]["containerInstanceArn"]
            self.by_instance[instance_id] = arn
            self.tasks[arn] = []
        for instance_id in sorted(set(self.by_instance) - members):
            arn = self.by_instance.pop(instance_id)
            assert not self.tasks.pop(arn), f"instance {instance_id} was terminated while it ran tasks"
            ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn, force=True)

    def start_on(self, instance_arn: str, count: int) -> None:
        ecs = self.aws.client("ecs")
        for _ in range(count):
            started = ecs.start_task(cluster=CLUSTER, taskDefinition=TASK_FAMILY, containerInstances=[instance_arn])
            self.tasks[instance_arn].append(started["tasks"][0]["taskArn"])

    def sync(self) -> None:
        """Register and deregister container instances; place or stop tasks to follow the service's desired count."""
        self.register_new_instances()
        if not self.follow_service:
            return
        ecs = self.aws.client("ecs")
        desired = world.ecs_desired(self.aws, CLUSTER, "api")
        running = sum(len(t) for t in self.tasks.values())
        states = {
            ci["containerInstanceArn"]: ci["status"]
            for ci in (
                ecs.describe_container_instances(cluster=CLUSTER, containerInstances=list(self.tasks))[
                    "containerInstances"
                ]
                if self.tasks
                else []
            )
        }
        while running > desired:
            emptiest = min((arn for arn in self.tasks if self.tasks[arn]), key=lambda arn: len(self.tasks[arn]))
            ecs.stop_task(cluster=CLUSTER, task=self.tasks[emptiest].pop(), reason="service scaled in")
            running -= 1
        while running < desired:
            free = [
                arn
                for arn in self.tasks
                if states.get(arn) == "ACTIVE" and len(self.tasks[arn]) < self.tasks_per_instance
            ]
            if not free:
                break  # the rest waits for placement
            fullest = max(free, key=lambda arn: len(self.tasks[arn]))
            self.start_on(fullest, 1)
            running += 1

    def running_tasks(self) -> int:
        return sum(len(t) for t in self.tasks.values())
