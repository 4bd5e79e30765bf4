//! The one error type of offhours, with the item and field each problem is about.

use std::path::PathBuf;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Everything that can go wrong in offhours. Messages read well in chat and logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration item is invalid; names the item and the field.
    #[error("{item}: field {field}: {message}")]
    Invalid {
        item: String,
        field: String,
        message: String,
    },

    /// A file could not be read or written.
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A YAML or JSON document could not be parsed.
    #[error("cannot parse {what}: {source}")]
    Parse {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A call to an AWS API failed.
    #[error("AWS {operation} failed: {code}: {message}")]
    Aws {
        operation: &'static str,
        /// AWS's error code (`UnauthorizedOperation`), or the kind of failure when there
        /// was no answer (`Timeout`, `Unreachable`): the error's identity, unlike the message.
        code: String,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Delivering a chat message failed.
    #[error("webhook delivery failed: {0}")]
    Webhook(String),

    /// `import` refused a config file with errors; nothing was written.
    #[error("refusing to import: {} problem(s), nothing written:\n  {}", problems.len(), problems.join("\n  "))]
    ImportRefused { problems: Vec<String> },

    /// An in-memory store (tests, `serve --config`) is unusable after a panic.
    #[error("{0} is unusable after an earlier panic")]
    Poisoned(&'static str),

    /// The chat-command endpoint could not listen or serve.
    #[error("cannot serve chat commands on {addr}: {source}")]
    Serve {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    /// Another invocation holds the lease on the state table.
    #[error("another invocation holds the scheduler lease until {until}")]
    LeaseHeld { until: String },

    /// Output could not be serialized.
    #[error("cannot serialize output: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Result with the offhours error as default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An invalid-field error for `item` (e.g. `schedule 'dev'`) and `field`.
    pub fn invalid(
        item: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            item: item.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An AWS call failure with AWS's error code; the message is the error and its whole
    /// source chain (the SDK's own `Display` says only "service error").
    pub fn aws<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = match &error {
            SdkError::ServiceError(_) => error.code().unwrap_or("Unknown").to_string(),
            SdkError::TimeoutError(_) => "Timeout".to_string(),
            SdkError::DispatchFailure(_) => "Unreachable".to_string(),
            SdkError::ResponseError(_) => "BadResponse".to_string(),
            SdkError::ConstructionFailure(_) => "BadRequest".to_string(),
            _ => "Unknown".to_string(),
        };
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        Error::Aws {
            operation,
            code,
            message,
            source: Some(Box::new(error)),
        }
    }
}
