//! Auto Scaling groups of one region: listed with their sizes, instances and tags, stopped by saving MinSize/MaxSize/DesiredCapacity in a tag and setting all three to 0, started by restoring them.

use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, LifecycleState, Tag};
use aws_sdk_autoscaling::Client;

use crate::core::config::ResourceKind;
use crate::core::plan::ResourceRef;
use crate::core::planner::{Resource, Sizes, Tags, SAVED_SIZE_TAG};
use crate::error::{Error, Result};

/// DescribeAutoScalingGroups page size (the API maximum).
const PAGE: i32 = 100;

/// Every Auto Scaling group of the region that carries `schedule_tag` (a server-side
/// `tag-key` filter), with its sizes, instances and tags.
pub async fn observe(client: &Client, region: &str, schedule_tag: &str) -> Result<Vec<Resource>> {
    let filter = Filter::builder()
        .name("tag-key")
        .values(schedule_tag)
        .build();
    let mut out = Vec::new();
    let mut pages = client
        .describe_auto_scaling_groups()
        .filters(filter)
        .max_records(PAGE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeAutoScalingGroups", e))?;
        out.extend(
            page.auto_scaling_groups()
                .iter()
                .filter_map(|g| resource(g, region, schedule_tag)),
        );
    }
    Ok(out)
}

/// A described group as a resource, if it carries the schedule tag. Its state is its
/// `Status` (only set while it is deleted), else `active`.
fn resource(g: &AutoScalingGroup, region: &str, schedule_tag: &str) -> Option<Resource> {
    let tags: Tags = g
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .collect();
    if !tags.contains_key(schedule_tag) {
        return None;
    }
    let count = |n: Option<i32>| Some(u32::try_from(n.unwrap_or(0)).unwrap_or(0));
    let in_service = g
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .count();
    Some(Resource {
        id: g.auto_scaling_group_name()?.into(),
        kind: ResourceKind::Asg,
        state: g.status().unwrap_or("active").into(),
        tags,
        account: None,
        region: Some(region.into()),
        engine: None,
        reason: None,
        cluster: None,
        hibernation: false,
        instance_type: None,
        desired: count(g.desired_capacity()),
        running: Some(u32::try_from(in_service).unwrap_or(u32::MAX)),
        min: count(g.min_size()),
        max: count(g.max_size()),
        instances: Some(u32::try_from(g.instances().len()).unwrap_or(u32::MAX)),
    })
}

/// Stops a group: its current sizes (when it desires instances) are saved in the tag
/// [`SAVED_SIZE_TAG`] first, so that a failure never loses them, then MinSize, MaxSize
/// and DesiredCapacity are set to 0.
pub async fn stop(client: &Client, r: &ResourceRef) -> Result<()> {
    let found = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&r.id)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeAutoScalingGroups", e))?;
    let current = found
        .auto_scaling_groups()
        .first()
        .ok_or_else(|| Error::Aws {
            operation: "DescribeAutoScalingGroups",
            code: "ValidationError".into(),
            message: format!("Auto Scaling group {} was not found", r.id),
            source: None,
        })?;
    let sizes = Sizes::to_save(
        current.min_size().unwrap_or(0).into(),
        current.max_size().unwrap_or(0).into(),
        current.desired_capacity().unwrap_or(0).into(),
    );
    if let Some(sizes) = sizes {
        let tag = Tag::builder()
            .resource_id(&r.id)
            .resource_type("auto-scaling-group")
            .key(SAVED_SIZE_TAG)
            .value(sizes.to_string())
            .propagate_at_launch(false)
            .build();
        client
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| Error::aws("CreateOrUpdateTags", e))?;
    }
    let zero = Sizes {
        min: 0,
        max: 0,
        desired: 0,
    };
    resize(client, &r.id, zero).await
}

/// Starts a group: the sizes the plan restores (one instance when it has none).
pub async fn start(client: &Client, r: &ResourceRef) -> Result<()> {
    let one = Sizes {
        min: 1,
        max: 1,
        desired: 1,
    };
    resize(client, &r.id, Sizes::of_ref(r).unwrap_or(one)).await
}

async fn resize(client: &Client, name: &str, sizes: Sizes) -> Result<()> {
    let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(n(sizes.min))
        .max_size(n(sizes.max))
        .desired_capacity(n(sizes.desired))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("UpdateAutoScalingGroup", e))
}
