//! EC2 instances, RDS instances, Aurora clusters, ECS services and Auto Scaling groups per account and region: the `Cloud` port implemented on the AWS SDK.

use std::collections::{BTreeMap, HashMap};

use aws_config::{Region, SdkConfig};

use super::accounts::{AssumedRole, OwnAccount};
use super::{asg, ecs};
use crate::core::config::{Action, Config, ResourceKind};
use crate::core::plan::ResourceRef;
use crate::core::planner::Gap;
use crate::core::planner::{Resource, Tags};
use crate::error::{Error, Result};
use crate::ports::{Account, ActionError, Cloud, Observation, Outcome, Settings};

/// Most instance ids in one StartInstances/StopInstances call.
pub const EC2_BATCH: usize = 1000;
/// DescribeInstances page size (the API maximum).
const EC2_PAGE: i32 = 1000;
/// DescribeDBInstances / DescribeDBClusters page size (the API maximum).
const RDS_PAGE: i32 = 100;

/// At most this many account-region places are observed at once.
const PLACES_AT_ONCE: usize = 4;

/// The SDK clients of one region of one account.
#[derive(Debug, Clone)]
struct RegionClients {
    name: String,
    /// Another account's role (`None`: the function's own account).
    role: Option<AssumedRole>,
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// EC2 instances, RDS instances, Aurora clusters, ECS services and Auto Scaling groups in
/// one or more regions of one or more accounts.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    regions: Vec<RegionClients>,
    /// Set when offhours manages several accounts: resources then carry their account,
    /// the own account's looked up once through STS.
    own: Option<OwnAccount>,
    schedule_tag: String,
    /// False when no schedule has an ECS group: the ECS listing (one ListClusters per
    /// region, and ListServices/DescribeServices per cluster) is skipped.
    list_ecs: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// False when no schedule has an ASG group: DescribeAutoScalingGroups is skipped.
    list_asg: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn tag_map<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Tags {
    pairs
        .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
        .collect()
}

/// Whether an EC2 error code can be caused by one instance of a batch (an unknown or
/// terminated id, a wrong state, a missing tag under a tag-scoped policy, no capacity for
/// its type), so that splitting the batch finds it. Throttling, timeouts and service
/// outages are not: they fail the whole batch, which the next tick retries.
fn names_an_instance(code: &str) -> bool {
    !matches!(
        code,
        "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "Unavailable"
            | "InternalError"
            | "InternalFailure"
            | "Timeout"
            | "Unreachable"
            | "BadResponse"
    )
}

impl RegionClients {
    fn new(config: &SdkConfig, name: &str, role: Option<AssumedRole>) -> Self {
        let region = Region::new(name.to_string());
        let ec2 = aws_sdk_ec2::config::Builder::from(config).region(region.clone());
        let rds = aws_sdk_rds::config::Builder::from(config).region(region.clone());
        let ecs = aws_sdk_ecs::config::Builder::from(config).region(region.clone());
        let autoscaling = aws_sdk_autoscaling::config::Builder::from(config).region(region);
        Self {
            name: name.to_string(),
            role,
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            rds: aws_sdk_rds::Client::from_conf(rds.build()),
            ecs: aws_sdk_ecs::Client::from_conf(ecs.build()),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
        }
    }
}

impl AwsCloud {
    /// Clients for every account of `settings.accounts` (the own one when empty) and
    /// region of `settings.regions` (the SDK's region when empty), built once; endpoint
    /// and the hub's credentials come from `sdk`.
    pub fn new(sdk: &SdkConfig, settings: &Settings) -> Self {
        let names: Vec<String> = if settings.regions.is_empty() {
            vec![sdk
                .region()
                .map(ToString::to_string)
                .unwrap_or_else(|| "us-east-1".to_string())]
        } else {
            settings.regions.clone()
        };
        let accounts = match settings.accounts.as_slice() {
            [] => vec![Account::Own],
            some => some.to_vec(),
        };
        let mut regions = Vec::new();
        for account in &accounts {
            let (role, config) = match account {
                Account::Own => (None, sdk.clone()),
                Account::Role { account, role } => {
                    let role =
                        AssumedRole::new(sdk, account, role, settings.spoke_external_id.clone());
                    let config = role.sdk_config(sdk);
                    (Some(role), config)
                }
            };
            for name in &names {
                regions.push(RegionClients::new(&config, name, role.clone()));
            }
        }
        Self {
            list_ecs: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            own: (accounts != [Account::Own]).then(|| OwnAccount::new(sdk)),
            list_asg: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            regions,
            schedule_tag: settings.tags.schedule.clone(),
        }
    }

    /// The same cloud, the API calls of every account's and region's clients counted by
    /// `calls` (a spoke role's AssumeRole, once an hour per account, is not counted).
    pub fn counting(mut self, calls: &crate::aws::calls::ApiCalls) -> Self {
        for r in &mut self.regions {
            let ec2 = r.ec2.config().to_builder().interceptor(calls.clone());
            r.ec2 = aws_sdk_ec2::Client::from_conf(ec2.build());
            let rds = r.rds.config().to_builder().interceptor(calls.clone());
            r.rds = aws_sdk_rds::Client::from_conf(rds.build());
            let ecs = r.ecs.config().to_builder().interceptor(calls.clone());
            r.ecs = aws_sdk_ecs::Client::from_conf(ecs.build());
            let autoscaling = r
                .autoscaling
                .config()
                .to_builder()
                .interceptor(calls.clone());
            r.autoscaling = aws_sdk_autoscaling::Client::from_conf(autoscaling.build());
        }
        self
    }

    /// The account resources of `place` carry: a spoke's id, the own account's id when
    /// offhours manages several (once known), else none.
    fn account_of(&self, place: &RegionClients) -> Option<String> {
        match (&place.role, &self.own) {
            (Some(role), _) => Some(role.account().to_string()),
            (None, Some(own)) => own.known().map(String::from),
            (None, None) => None,
        }
    }

    /// The clients for a resource's account and region (the first region of its account
    /// when it names none).
    fn region(&self, account: Option<&str>, name: Option<&str>) -> Option<&RegionClients> {
        self.regions
            .iter()
            .filter(|r| self.account_of(r).as_deref() == account)
            .find(|r| name.is_none_or(|n| r.name == n))
    }

    async fn observe_ec2(&self, region: &RegionClients) -> Result<Vec<Resource>> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("tag-key")
            .values(&self.schedule_tag)
            .build();
        let mut out = Vec::new();
        let mut pages = region
            .ec2
            .describe_instances()
            .filters(filter)
            .max_results(EC2_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("DescribeInstances", e))?;
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                let (Some(id), Some(state)) = (
                    instance.instance_id(),
                    instance.state().and_then(|s| s.name()),
                ) else {
                    continue;
                };
                let state = state.as_str();
                if state == "terminated" {
                    continue;
                }
                let reason = instance
                    .state_reason()
                    .and_then(|r| r.message().or(r.code()))
                    .map(Box::from);
                out.push(Resource {
                    id: id.into(),
                    kind: ResourceKind::Ec2,
                    state: state.into(),
                    tags: tag_map(instance.tags().iter().map(|t| (t.key(), t.value()))),
                    account: None,
                    region: Some(region.name.as_str().into()),
                    engine: None,
                    reason,
                    cluster: None,
                    hibernation: instance
                        .hibernation_options()
                        .and_then(|h| h.configured())
                        .unwrap_or(false),
                    instance_type: instance.instance_type().map(|t| t.as_str().into()),
                    desired: None,
                    running: None,
                    min: None,
                    max: None,
                    instances: None,
                });
            }
        }
        Ok(out)
    }

    async fn observe_rds(&self, region: &RegionClients) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        let mut pages = region
            .rds
            .describe_db_instances()
            .max_records(RDS_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("DescribeDBInstances", e))?;
            for db in page.db_instances() {
                // Aurora members start and stop with their cluster: reported (the planner
                // warns when one carries the schedule tag), never acted on.
                out.extend(
                    self.scheduled_database(
                        region,
                        ResourceKind::Rds,
                        (db.db_instance_identifier(), db.db_instance_status()),
                        db.engine(),
                        db.tag_list().iter().map(|t| (t.key(), t.value())),
                    )
                    .map(|r| Resource {
                        cluster: db.db_cluster_identifier().map(Box::from),
                        instance_type: db.db_instance_class().map(Box::from),
                        ..r
                    }),
                );
            }
        }
        Ok(out)
    }

    /// An RDS instance or Aurora cluster as a resource, if it has an id, a status and the
    /// schedule tag (RDS has no server-side tag filter, so tags are checked here).
    fn scheduled_database<'a>(
        &self,
        region: &RegionClients,
        kind: ResourceKind,
        (id, state): (Option<&str>, Option<&str>),
        engine: Option<&str>,
        tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) -> Option<Resource> {
        let tags = tag_map(tags);
        if !tags.contains_key(&self.schedule_tag) {
            return None;
        }
        Some(Resource {
            id: id?.into(),
            kind,
            state: state?.into(),
            tags,
            account: None,
            region: Some(region.name.as_str().into()),
            engine: engine.map(Box::from),
            reason: None,
            cluster: None,
            hibernation: false,
            instance_type: None,
            desired: None,
            running: None,
            min: None,
            max: None,
            instances: None,
        })
    }

    async fn observe_aurora(&self, region: &RegionClients) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        let mut pages = region
            .rds
            .describe_db_clusters()
            .max_records(RDS_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("DescribeDBClusters", e))?;
            for cluster in page.db_clusters() {
                out.extend(self.scheduled_database(
                    region,
                    ResourceKind::Aurora,
                    (cluster.db_cluster_identifier(), cluster.status()),
                    cluster.engine(),
                    cluster.tag_list().iter().map(|t| (t.key(), t.value())),
                ));
            }
        }
        Ok(out)
    }

    /// One Start/StopInstances call per batch (`hibernate`: StopInstances with
    /// Hibernate=true); a failed batch is split in halves and retried, so one bad id fails
    /// alone. Returns the error per failed id.
    async fn act_ec2(
        &self,
        region: &RegionClients,
        (action, hibernate): (Action, bool),
        ids: Vec<String>,
    ) -> HashMap<String, ActionError> {
        let mut failed = HashMap::new();
        let mut work: Vec<Vec<String>> = ids.chunks(EC2_BATCH).map(<[String]>::to_vec).collect();
        work.reverse();
        while let Some(batch) = work.pop() {
            let result = match action {
                Action::Start => region
                    .ec2
                    .start_instances()
                    .set_instance_ids(Some(batch.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::aws("StartInstances", e)),
                Action::Stop => region
                    .ec2
                    .stop_instances()
                    .set_instance_ids(Some(batch.clone()))
                    .set_hibernate(hibernate.then_some(true))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::aws("StopInstances", e)),
            };
            let e: ActionError = match result {
                Ok(()) => continue,
                Err(e) => e.into(),
            };
            if batch.len() == 1 || !names_an_instance(&e.code) {
                // Throttling, timeouts and outages say nothing about one instance: splitting
                // would only multiply the calls. The batch fails as a whole.
                for id in batch {
                    failed.insert(id, e.clone());
                }
                continue;
            }
            tracing::info!(size = batch.len(), code = %e.code, "EC2 batch failed; retrying in halves to find the instance");
            let (a, b) = batch.split_at(batch.len() / 2);
            work.push(b.to_vec());
            work.push(a.to_vec());
        }
        failed
    }

    async fn act_rds(
        &self,
        region: &RegionClients,
        action: Action,
        kind: ResourceKind,
        id: &str,
    ) -> Result<()> {
        let rds = &region.rds;
        match (kind, action) {
            (ResourceKind::Aurora, Action::Start) => rds
                .start_db_cluster()
                .db_cluster_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("StartDBCluster", e)),
            (ResourceKind::Aurora, Action::Stop) => rds
                .stop_db_cluster()
                .db_cluster_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("StopDBCluster", e)),
            (_, Action::Start) => rds
                .start_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("StartDBInstance", e)),
            (_, Action::Stop) => rds
                .stop_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("StopDBInstance", e)),
        }
    }

    async fn act(&self, action: Action, resources: &[ResourceRef]) -> Vec<Outcome> {
        let mut errors: HashMap<String, ActionError> = HashMap::new();
        let unplaced = |r: &ResourceRef| ActionError {
            operation: String::new(),
            code: "RegionNotConfigured".into(),
            message: match &r.account {
                Some(a) => format!("region {:?} of account {a} is not configured", r.region),
                None => format!("region {:?} is not configured", r.region),
            },
        };
        // EC2: one batch per account, region and stop mode (hibernating instances apart:
        // a StopInstances call hibernates all of its instances or none).
        type Batch<'a> = (Option<&'a str>, Option<&'a str>, bool);
        let mut ec2: BTreeMap<Batch<'_>, Vec<&ResourceRef>> = BTreeMap::new();
        for r in resources.iter().filter(|r| r.kind == ResourceKind::Ec2) {
            let hibernate = action == Action::Stop && r.hibernate;
            ec2.entry((r.account.as_deref(), r.region.as_deref(), hibernate))
                .or_default()
                .push(r);
        }
        for ((account, region_name, hibernate), refs) in ec2 {
            let Some(region) = self.region(account, region_name) else {
                for r in refs {
                    errors.insert(r.key(), unplaced(r));
                }
                continue;
            };
            let ids = refs.iter().map(|r| r.id.clone()).collect();
            let mut failed = self.act_ec2(region, (action, hibernate), ids).await;
            for r in refs {
                if let Some(e) = failed.remove(&r.id) {
                    errors.insert(r.key(), e);
                }
            }
        }
        // RDS instances, Aurora clusters, ECS services and Auto Scaling groups: one
        // resource at a time.
        for r in resources.iter().filter(|r| r.kind != ResourceKind::Ec2) {
            let result = match self.region(r.account.as_deref(), r.region.as_deref()) {
                Some(region) if r.kind == ResourceKind::Ecs => match action {
                    Action::Start => ecs::start(&region.ecs, r).await,
                    Action::Stop => ecs::stop(&region.ecs, r).await,
                },
                Some(region) if r.kind == ResourceKind::Asg => match action {
                    Action::Start => asg::start(&region.autoscaling, r).await,
                    Action::Stop => asg::stop(&region.autoscaling, r).await,
                },
                Some(region) => self.act_rds(region, action, r.kind, &r.id).await,
                None => {
                    errors.insert(r.key(), unplaced(r));
                    continue;
                }
            };
            if let Err(e) = result {
                errors.insert(r.key(), e.into());
            }
        }
        resources
            .iter()
            .map(|r| Outcome {
                resource: r.clone(),
                error: errors.remove(&r.key()),
            })
            .collect()
    }
}

impl AwsCloud {
    /// One region's listings (EC2, RDS, Aurora, and ECS and Auto Scaling when a schedule
    /// uses them), concurrently; a failed one becomes a gap.
    async fn observe_region(&self, region: &RegionClients) -> Observation {
        let mut seen = Observation::default();
        let (ec2, rds, aurora, services, groups) = tokio::join!(
            self.observe_ec2(region),
            self.observe_rds(region),
            self.observe_aurora(region),
            async {
                if self.list_ecs.load(std::sync::atomic::Ordering::Relaxed) {
                    ecs::observe(&region.ecs, &region.name, &self.schedule_tag).await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                if self.list_asg.load(std::sync::atomic::Ordering::Relaxed) {
                    asg::observe(&region.autoscaling, &region.name, &self.schedule_tag).await
                } else {
                    Ok(Vec::new())
                }
            },
        );
        let results = [
            ("ec2", ec2),
            ("rds", rds),
            ("rds", aurora),
            ("ecs", services),
            ("autoscaling", groups),
        ];
        let account = self.account_of(region);
        for (service, result) in results {
            match result {
                Ok(resources) => seen
                    .resources
                    .extend(resources.into_iter().map(|r| Resource {
                        account: account.as_deref().map(Box::from),
                        ..r
                    })),
                Err(e) => {
                    let e = ActionError::from(e);
                    tracing::error!(account = account.as_deref().unwrap_or("own"), region = %region.name, service, operation = %e.operation, code = %e.code, error = %e.message, "cannot observe");
                    seen.gaps.push(Gap {
                        account: account.clone(),
                        region: region.name.clone(),
                        service: service.to_string(),
                        operation: e.operation,
                        code: e.code,
                        role: None,
                    });
                }
            }
        }
        seen
    }

    /// Enters every account before its regions are listed: each spoke role's credentials
    /// (cached, one AssumeRole per lifetime) and the own account's id when offhours
    /// manages several. An account that cannot be entered is one gap covering all of it.
    async fn enter_accounts(&self) -> Vec<Gap> {
        let mut gaps = Vec::new();
        if let Some(own) = &self.own {
            if self.regions.iter().any(|r| r.role.is_none()) {
                if let Err(e) = own.id().await {
                    let e = ActionError::from(e);
                    tracing::error!(operation = %e.operation, code = %e.code, error = %e.message, "cannot tell the own account's id; its resources are not observed");
                    gaps.push(Gap {
                        account: None,
                        region: "*".into(),
                        service: "sts".into(),
                        operation: e.operation,
                        code: e.code,
                        role: None,
                    });
                }
            }
        }
        let mut roles: Vec<AssumedRole> = Vec::new();
        for role in self.regions.iter().filter_map(|r| r.role.as_ref()) {
            if !roles.iter().any(|known| known.account() == role.account()) {
                roles.push(role.clone());
            }
        }
        gaps.extend(super::accounts::enter(roles, PLACES_AT_ONCE).await);
        gaps
    }

    /// Whether `place` is inside an account that could not be entered this tick.
    fn shut_out(&self, place: &RegionClients, gaps: &[Gap]) -> bool {
        gaps.iter().any(|g| {
            g.region == "*"
                && match (&g.account, &place.role) {
                    (Some(account), Some(role)) => account == role.account(),
                    (None, None) => true,
                    _ => false,
                }
        })
    }
}

impl Cloud for AwsCloud {
    fn scope(&self, config: &Config) {
        let uses = |kind| {
            config
                .schedules
                .iter()
                .any(|s| s.groups.iter().any(|g| g.kind == kind))
        };
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.list_ecs.store(uses(ResourceKind::Ecs), relaxed);
        self.list_asg.store(uses(ResourceKind::Asg), relaxed);
    }

    /// Every region's resources; fails only when nothing at all could be observed.
    async fn observe(&self) -> Result<Vec<Resource>> {
        let seen = self.observe_all().await?;
        Ok(seen.resources)
    }

    /// Every account entered first; then its account-region places, at most
    /// [`PLACES_AT_ONCE`] at a time, each place's services concurrently. A failure in one
    /// account, region or service is a gap; everything else is observed.
    async fn observe_all(&self) -> Result<Observation> {
        let mut seen = Observation {
            resources: Vec::new(),
            gaps: self.enter_accounts().await,
        };
        let open: Vec<&RegionClients> = self
            .regions
            .iter()
            .filter(|place| !self.shut_out(place, &seen.gaps))
            .collect();
        let mut observed = Vec::with_capacity(open.len());
        let mut running = tokio::task::JoinSet::new();
        for (i, place) in open.iter().enumerate() {
            if running.len() >= PLACES_AT_ONCE {
                observed.extend(running.join_next().await);
            }
            let (cloud, place) = (self.clone(), (*place).clone());
            running.spawn(async move { (i, cloud.observe_region(&place).await) });
        }
        while let Some(done) = running.join_next().await {
            observed.push(done);
        }
        let mut observed = observed
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::invalid("observation", "task", e.to_string()))?;
        observed.sort_by_key(|(i, _)| *i);
        // EC2, RDS instances and Aurora clusters, plus ECS services and Auto Scaling groups
        // when they are listed.
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        let per_region =
            3 + usize::from(self.list_ecs.load(relaxed)) + usize::from(self.list_asg.load(relaxed));
        let mut blind = self.regions.len() - open.len();
        for (_, place) in observed {
            blind += usize::from(place.gaps.len() == per_region);
            seen.resources.extend(place.resources);
            seen.gaps.extend(place.gaps);
        }
        if !self.regions.is_empty() && blind == self.regions.len() {
            let g = &seen.gaps[0];
            return Err(Error::Aws {
                operation: "DescribeInstances",
                code: g.code.clone(),
                message: format!(
                    "no account, region or service could be observed (first: {}region {}, {} {}{} {})",
                    g.account.as_ref().map(|a| format!("account {a}, ")).unwrap_or_default(),
                    g.region,
                    g.service,
                    g.operation,
                    g.role.as_ref().map(|r| format!(" of role {r}")).unwrap_or_default(),
                    g.code
                ),
                source: None,
            });
        }
        Ok(seen)
    }

    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.act(Action::Start, resources).await
    }

    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.act(Action::Stop, resources).await
    }
}
