//! The one integration-test binary: real servers on random loopback ports,
//! talked to over HTTP.

mod cli;
mod connections;
mod cors;
mod crash;
mod detached;
mod files;
mod generate_file;
mod generation_status;
mod golden;
mod gtas;
mod helpers;
mod hostile;
mod login;
mod operations;
mod race;
mod s3;
mod schemathesis;
mod upgrade;
mod web_app;
