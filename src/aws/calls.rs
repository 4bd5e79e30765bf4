//! Counting AWS API calls: one SDK interceptor shared by every client of a process, one count per HTTP request sent to AWS (retries included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// How many HTTP requests the SDK clients it is registered on have sent: every attempt
/// counts, a retried call too (that is what AWS bills, throttles and logs in CloudTrail).
/// Clones share the count. The SDK crates re-export one `Intercept` trait, so the same
/// counter goes on DynamoDB, EC2, RDS, ECS and EventBridge clients.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls(Arc<AtomicU64>);

impl ApiCalls {
    /// Requests sent so far (subtract an earlier reading for one tick's).
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "offhours::ApiCalls"
    }

    /// Called once per attempt, just before the request goes out.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
