//! Chat commands (Slack slash command, JANDI outgoing webhook): verify the request, parse the command, check the caller may run it, act through a store once per delivery, reply in the platform's format within Slack's time limit.

mod access;
mod command;
mod execute;
mod follow;
mod handle;
mod http;
mod query;
mod reply;
mod verify;

#[cfg(test)]
mod fixtures;

pub use access::{refusal, required, ChatAccess, Permission};
pub use command::{help, parse, Command, Day, Extension};
pub use execute::{default_skip_date, exception_item, execute, plan_extend, ExtendPlan};
pub use follow::{FollowUp, REPLY_BUDGET};
pub use handle::{handle, handle_in_time, Handled};
pub use http::{ChatRequest, ChatResponse};
pub use query::{exception_list, info, status};
pub use reply::{render_reply, Reply};
pub use verify::{
    delivery_key, slack_signature, verify, ChatSecrets, Incoming, Platform, Rejection,
    MAX_CLOCK_SKEW_SECONDS,
};
