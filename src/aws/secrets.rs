//! Secrets from SSM Parameter Store: a SecureString parameter read (decrypted) by name.

use crate::error::{Error, Result};

/// Reads SSM parameters; built only when a `<NAME>_PARAM` setting names one.
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
}

impl SsmSecrets {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_ssm::Client::new(sdk),
        }
    }

    /// The decrypted value of parameter `name` (GetParameter with WithDecryption). Errors
    /// name the operation and code, never a value.
    pub async fn get(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| Error::aws("GetParameter", e))?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| Error::invalid("SSM parameter", name, "has no value"))
    }
}
