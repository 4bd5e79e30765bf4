//! Chat notifications: messages built from a tick's report (message), rendered per chat platform (render), delivered with bounded retries (deliver), and said once per occasion (dedup); the weekly digest (digest).

mod dedup;
mod deliver;
mod digest;
#[cfg(test)]
mod fixtures;
mod message;
mod render;

pub use dedup::{
    error_key, notify_tick, notify_tick_with_digests, warning_key, DeliveryRecord, NotifyOutcome,
};
pub use deliver::{
    Delivery, DeliveryPolicy, Notifier, NotifySettings, PostFuture, Posted, Transport,
};
pub use digest::{digest_key, digest_message, STORAGE_CAVEAT};
pub use message::{
    alert_message, resolved_message, transition_message, warning_message, Message, MessageKind,
    Section, Severity,
};
pub use render::{render, Payload, WebhookFormat, JANDI_ACCEPT};
