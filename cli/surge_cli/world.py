"""The pieces of a simulated production world on moto: an ECS service, an Auto Scaling group, ALB metrics.

Used by the state-machine tests and by the replay. Everything goes through boto3 against moto, exactly as
Surge's own adapters see it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from surge_cli.localaws import LocalAws

ALB_NAMESPACE = "AWS/ApplicationELB"


def create_ecs_service(
    aws: LocalAws, cluster: str, service: str, desired_units: int, capacity_provider: str | None = None
) -> None:
    """An ECS service (EC2 launch type), or with `capacity_provider` one placed by that capacity provider (which
    must be on the cluster already: `create_capacity_provider`)."""
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    family = f"{service}-task"
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "api", "image": "public.ecr.aws/nginx/nginx:latest", "memory": 512}],
    )
    strategy = (
        {}
        if capacity_provider is None
        else {"capacityProviderStrategy": [{"capacityProvider": capacity_provider, "weight": 1}]}
    )
    ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=family, desiredCount=desired_units, **strategy
    )


def create_capacity_provider(
    aws: LocalAws,
    cluster: str,
    name: str,
    group_name: str,
    *,
    managed_scaling: bool = True,
    target_capacity_percent: int = 100,
    instance_warmup_seconds: int = 300,
) -> None:
    """A capacity provider for an existing Auto Scaling group (managed termination protection on, managed scaling
    as given), associated with the cluster (created if missing) as its default strategy. The group's instances
    are protected from scale-in, as managed termination protection requires
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html)."""
    autoscaling = aws.client("autoscaling")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group_name, NewInstancesProtectedFromScaleIn=True)
    arn = auto_scaling_group(aws, group_name)["AutoScalingGroupARN"]
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": arn,
            "managedScaling": {
                "status": "ENABLED" if managed_scaling else "DISABLED",
                "targetCapacity": target_capacity_percent,
                "instanceWarmupPeriod": instance_warmup_seconds,
            },
            "managedTerminationProtection": "ENABLED",
        },
    )
    ecs.put_cluster_capacity_providers(
        cluster=cluster,
        capacityProviders=[name],
        defaultCapacityProviderStrategy=[{"capacityProvider": name, "weight": 1}],
    )


def ecs_desired(aws: LocalAws, cluster: str, service: str) -> int:
    services = aws.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    return int(services[0]["desiredCount"])


def create_auto_scaling_group(aws: LocalAws, name: str, min_units: int, max_units: int, desired_units: int) -> None:
    template_name = f"{name}-template"
    aws.client("ec2").create_launch_template(
        LaunchTemplateName=template_name, LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template_name},
        MinSize=min_units,
        MaxSize=max_units,
        DesiredCapacity=desired_units,
        AvailabilityZones=[f"{aws.region}a"],
    )


def auto_scaling_group(aws: LocalAws, name: str) -> dict[str, Any]:
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    group: dict[str, Any] = groups["AutoScalingGroups"][0]
    return group


def publish_request_count(
    aws: LocalAws, load_balancer: str, minute_start: datetime, requests: float, target_group: str | None = None
) -> None:
    """Publish one ALB RequestCount datapoint (the Sum of one minute), as the ALB does after the minute closes."""
    dimensions = [{"Name": "LoadBalancer", "Value": load_balancer}]
    if target_group is not None:
        dimensions.append({"Name": "TargetGroup", "Value": target_group})
    aws.client("cloudwatch").put_metric_data(
        Namespace=ALB_NAMESPACE,
        MetricData=[
            {
                "MetricName": "RequestCount",
                "Dimensions": dimensions,
                "Timestamp": minute_start,
                "Value": float(requests),
                "Unit": "Count",
            }
        ],
    )


def publish_high_resolution_count(
    aws: LocalAws,
    namespace: str,
    metric_name: str,
    dimensions: dict[str, str],
    period_start: datetime,
    requests: float,
) -> None:
    """Publish one high-resolution request-count datapoint (StorageResolution=1: readable at 1-60 s periods),
    stamped at the start of the period it sums, as an application's metrics library does when the period closes."""
    aws.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
                "Timestamp": period_start,
                "Value": float(requests),
                "Unit": "Count",
                "StorageResolution": 1,
            }
        ],
    )
