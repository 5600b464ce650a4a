//! Tier 3: the generation service — what a generate request changes
//! (`queue`) and how the state of a file is reported (`status`). The worker
//! does the work the queue records.

pub mod queue;
pub mod status;
