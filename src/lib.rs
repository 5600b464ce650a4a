//! broker-lite: the DATA Act Broker's file-generation routes in one binary.
//!
//! Everything testable lives in this library; `main.rs` only parses the
//! command line and calls into it.

pub mod app;
pub mod auth;
pub mod columns;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fixtures;
pub mod generate;
pub mod http;
pub mod names;
pub mod permissions;
pub mod pgtext;
pub mod routes;
pub mod status;
pub mod storage;
pub mod synth;
pub mod timefmt;
pub mod worker;
