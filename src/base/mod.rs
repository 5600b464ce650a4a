//! Tier 0: plain types and rules with no knowledge of the rest — the
//! configuration, domain enums and typed ids, the error type, every broker
//! message, and the text formats of values, dates and times.

pub mod config;
pub mod decimal;
pub mod domain;
pub mod error;
pub mod fiscal;
pub mod ids;
pub mod messages;
pub mod metrics;
pub mod pgtext;
pub mod tas;
pub mod timefmt;
pub mod util;
