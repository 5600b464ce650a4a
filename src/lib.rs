//! broker-lite: the DATA Act Broker's file-generation routes in one binary.
//!
//! Everything testable lives in this library; `main.rs` only parses the
//! command line and calls into it. Modules form tiers, each using only the
//! tiers below it (ARCHITECTURE.md; `layering_tests` keeps it true):
//!
//! 0. `base`: configuration, domain types, ids, errors, messages, formats
//! 1. `auth`, `db`, `storage`, `http`
//! 2. `files` (one spec per file type), `state` (AppState), `access`
//! 3. `generation` (the service), `worker`, `tools`
//! 4. `web` (the routes)
//! 5. `app` (the wiring)

pub mod access;
pub mod app;
pub mod auth;
pub mod base;
pub mod db;
pub mod files;
pub mod generation;
pub mod http;
pub mod state;
pub mod storage;
pub mod tools;
pub mod web;
pub mod worker;

#[cfg(test)]
mod layering_tests;
