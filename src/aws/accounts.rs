//! Other AWS accounts: the spoke role assumed through STS, its credentials cached until shortly before they expire, and the function's own account id.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use tokio::sync::{Mutex, OnceCell};

use crate::core::planner::Gap;
use crate::error::{Error, Result};
use crate::ports::ActionError;

/// Assumed credentials are renewed this long before they expire, so that no call of a
/// tick runs with credentials that expire under it.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// The session length asked for (STS's default, which every role allows).
const SESSION_SECONDS: i32 = 3600;
/// The session name, visible in the spoke account's CloudTrail.
const SESSION_NAME: &str = "offhours";

/// A spoke role in another account: one AssumeRole call per credential lifetime, shared
/// by every client (every region and service) of that account.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    account: String,
    role: String,
    external_id: Option<String>,
    sts: aws_sdk_sts::Client,
    cached: Mutex<Option<Credentials>>,
}

impl AssumedRole {
    /// The role `role` of `account`, assumed with the credentials of `hub`.
    pub fn new(hub: &SdkConfig, account: &str, role: &str, external_id: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                account: account.to_string(),
                role: role.to_string(),
                external_id,
                sts: aws_sdk_sts::Client::new(hub),
                cached: Mutex::new(None),
            }),
        }
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub fn role(&self) -> &str {
        &self.inner.role
    }

    /// The SDK settings of the spoke account: `hub`'s, with this role's credentials (and
    /// no identity cache of the SDK's own: this type is the cache).
    pub fn sdk_config(&self, hub: &SdkConfig) -> SdkConfig {
        hub.clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(self.clone()))
            .identity_cache(IdentityCache::no_cache())
            .build()
    }

    /// The role's credentials: the cached ones while they have more than
    /// [`RENEW_BEFORE`] left, else new ones from one AssumeRole call.
    pub async fn credentials(&self) -> Result<Credentials> {
        let mut cached = self.inner.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(c.clone());
        }
        let out = self
            .inner
            .sts
            .assume_role()
            .role_arn(&self.inner.role)
            .role_session_name(SESSION_NAME)
            .set_external_id(self.inner.external_id.clone())
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| Error::aws("AssumeRole", e))?;
        let Some(c) = out.credentials() else {
            return Err(Error::Aws {
                operation: "AssumeRole",
                code: "NoCredentials".into(),
                message: format!("STS returned no credentials for {}", self.inner.role),
                source: None,
            });
        };
        // An expiry that does not convert is taken as the session length asked for, so
        // the credentials are renewed in time rather than kept forever.
        let expiry = SystemTime::try_from(*c.expiration()).ok().or_else(|| {
            SystemTime::now()
                .checked_add(Duration::from_secs(SESSION_SECONDS.unsigned_abs().into()))
        });
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "offhours-assume-role",
        );
        *cached = Some(credentials.clone());
        Ok(credentials)
    }
}

/// Whether `c` has more than [`RENEW_BEFORE`] left at `now` (credentials without an
/// expiry never expire).
fn fresh(c: &Credentials, now: SystemTime) -> bool {
    c.expiry().is_none_or(|expiry| {
        expiry
            .duration_since(now)
            .is_ok_and(|left| left > RENEW_BEFORE)
    })
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// Enters every spoke account of `roles` (cached credentials answer at once), at most
/// `at_once` AssumeRole calls in flight, so a slow STS costs one call's time, not one per
/// account. Each account that cannot be entered is one gap covering all of it (service
/// `sts`, region `*`), in account order.
pub async fn enter(roles: Vec<AssumedRole>, at_once: usize) -> Vec<Gap> {
    let mut entering = tokio::task::JoinSet::new();
    let mut refused = Vec::new();
    for role in roles {
        if entering.len() >= at_once {
            refused.extend(
                entering
                    .join_next()
                    .await
                    .and_then(|done| done.ok())
                    .flatten(),
            );
        }
        entering.spawn(async move {
            let e = role.credentials().await.err()?;
            Some((role, ActionError::from(e)))
        });
    }
    while let Some(done) = entering.join_next().await {
        refused.extend(done.ok().flatten());
    }
    refused.sort_by(|a, b| a.0.account().cmp(b.0.account()));
    refused
        .into_iter()
        .map(|(role, e)| {
            tracing::error!(account = role.account(), role = role.role(), code = %e.code, error = %e.message, "cannot assume the spoke role; the account is not observed");
            Gap {
                account: Some(role.account().to_string()),
                region: "*".into(),
                service: "sts".into(),
                operation: e.operation,
                code: e.code,
                role: Some(role.role().to_string()),
            }
        })
        .collect()
}

/// The function's own account id, looked up once (STS GetCallerIdentity) when first
/// needed: resources of the own account carry it when offhours manages several.
#[derive(Debug, Clone)]
pub struct OwnAccount {
    sts: aws_sdk_sts::Client,
    id: Arc<OnceCell<String>>,
}

impl OwnAccount {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(sdk),
            id: Arc::new(OnceCell::new()),
        }
    }

    /// The id, once known.
    pub fn known(&self) -> Option<&str> {
        self.id.get().map(String::as_str)
    }

    /// The id: looked up on the first call, then remembered (a failed lookup is retried
    /// on the next call).
    pub async fn id(&self) -> Result<&str> {
        let id = self
            .id
            .get_or_try_init(|| async {
                let me = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| Error::aws("GetCallerIdentity", e))?;
                me.account().map(String::from).ok_or_else(|| Error::Aws {
                    operation: "GetCallerIdentity",
                    code: "NoAccount".into(),
                    message: "STS named no account".into(),
                    source: None,
                })
            })
            .await?;
        Ok(id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring_in(seconds: u64, now: SystemTime) -> Credentials {
        Credentials::new(
            "AKID",
            "secret",
            None,
            Some(now + Duration::from_secs(seconds)),
            "test",
        )
    }

    #[test]
    fn credentials_are_renewed_five_minutes_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(fresh(&expiring_in(3600, now), now));
        assert!(fresh(&expiring_in(301, now), now));
        assert!(!fresh(&expiring_in(300, now), now));
        assert!(!fresh(&expiring_in(0, now), now));
        let expired = Credentials::new("A", "s", None, Some(now - Duration::from_secs(1)), "t");
        assert!(!fresh(&expired, now));
        assert!(fresh(&Credentials::new("A", "s", None, None, "t"), now));
    }
}
