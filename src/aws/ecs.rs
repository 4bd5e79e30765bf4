//! ECS services of one region: listed with their task counts and tags, stopped by saving `desiredCount` in a tag and setting 0, started by restoring it.

use aws_sdk_ecs::types::{ServiceField, Tag};
use aws_sdk_ecs::Client;

use crate::core::config::ResourceKind;
use crate::core::plan::ResourceRef;
use crate::core::planner::{count_to_save, Resource, DESIRED_COUNT_TAG};
use crate::error::{Error, Result};

/// Most services in one DescribeServices call (the API maximum).
const DESCRIBE_BATCH: usize = 10;
/// ListServices page size (the API maximum).
const LIST_PAGE: i32 = 100;

/// The last part of an ARN (`arn:...:cluster/dev` -> `dev`).
fn short_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A service's id in reports and in the state table: `cluster/service`.
fn service_id(cluster_arn: &str, service: &str) -> String {
    format!("{}/{service}", short_name(cluster_arn))
}

/// Splits an id made by [`service_id`] into cluster and service names.
fn split_id(id: &str) -> Result<(&str, &str)> {
    id.split_once('/').ok_or_else(|| {
        Error::invalid(
            format!("ECS service {id}"),
            "id",
            "not of the form cluster/service",
        )
    })
}

/// Every service of every cluster in the region that carries `schedule_tag`, with its
/// status (`ACTIVE`...), desired and running counts and tags.
pub async fn observe(client: &Client, region: &str, schedule_tag: &str) -> Result<Vec<Resource>> {
    let mut clusters = Vec::new();
    let mut pages = client.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListClusters", e))?;
        clusters.extend(page.cluster_arns().iter().cloned());
    }
    let mut out = Vec::new();
    for cluster in clusters {
        let mut arns = Vec::new();
        let list = client
            .list_services()
            .cluster(&cluster)
            .max_results(LIST_PAGE);
        let mut pages = list.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ListServices", e))?;
            arns.extend(page.service_arns().iter().cloned());
        }
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let found = describe(client, &cluster, batch).await?;
            out.extend(
                found
                    .iter()
                    .filter_map(|s| resource(s, &cluster, region, schedule_tag)),
            );
        }
    }
    Ok(out)
}

async fn describe(
    client: &Client,
    cluster: &str,
    services: &[String],
) -> Result<Vec<aws_sdk_ecs::types::Service>> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services.to_vec()))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeServices", e))?;
    Ok(out.services().to_vec())
}

/// A described service as a resource, if it carries the schedule tag.
fn resource(
    s: &aws_sdk_ecs::types::Service,
    cluster: &str,
    region: &str,
    schedule_tag: &str,
) -> Option<Resource> {
    let tags: crate::core::planner::Tags = s
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .collect();
    if !tags.contains_key(schedule_tag) {
        return None;
    }
    let count = |n: i32| Some(u32::try_from(n).unwrap_or(0));
    Some(Resource {
        id: service_id(s.cluster_arn().unwrap_or(cluster), s.service_name()?).into(),
        kind: ResourceKind::Ecs,
        state: s.status()?.into(),
        tags,
        account: None,
        region: Some(region.into()),
        engine: None,
        reason: None,
        cluster: None,
        hibernation: false,
        instance_type: None,
        desired: count(s.desired_count()),
        running: count(s.running_count()),
        min: None,
        max: None,
        instances: None,
    })
}

/// Stops a service: its current `desiredCount` (when above 0) is saved in the tag
/// [`DESIRED_COUNT_TAG`] first, so that a failure never loses it, then set to 0.
pub async fn stop(client: &Client, r: &ResourceRef) -> Result<()> {
    let (cluster, service) = split_id(&r.id)?;
    let found = describe(client, cluster, &[service.to_string()]).await?;
    let current = found.first().ok_or_else(|| Error::Aws {
        operation: "DescribeServices",
        code: "ServiceNotFoundException".into(),
        message: format!("ECS service {} was not found", r.id),
        source: None,
    })?;
    if let (Some(n), Some(arn)) = (
        count_to_save(current.desired_count().into()),
        current.service_arn(),
    ) {
        let tag = Tag::builder()
            .key(DESIRED_COUNT_TAG)
            .value(n.to_string())
            .build();
        client
            .tag_resource()
            .resource_arn(arn)
            .tags(tag)
            .send()
            .await
            .map_err(|e| Error::aws("TagResource", e))?;
    }
    set_desired(client, (cluster, service), 0).await
}

/// Starts a service: `desiredCount` back to the count the plan restores (1 when it has none).
pub async fn start(client: &Client, r: &ResourceRef) -> Result<()> {
    let (cluster, service) = split_id(&r.id)?;
    set_desired(client, (cluster, service), r.desired.unwrap_or(1)).await
}

async fn set_desired(client: &Client, (cluster, service): (&str, &str), n: u32) -> Result<()> {
    client
        .update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(i32::try_from(n).unwrap_or(i32::MAX))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("UpdateService", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_cluster_slash_service() {
        let id = service_id("arn:aws:ecs:us-east-1:123456789012:cluster/dev", "api");
        assert_eq!(id, "dev/api");
        assert_eq!(split_id(&id).expect("splits"), ("dev", "api"));
        assert!(split_id("api").is_err());
    }
}
