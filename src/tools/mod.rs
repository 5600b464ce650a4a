//! Tier 3: data tools — the fixture loader (`fixtures load`, the tests, the
//! demo), the synthetic data of the benchmarks, `serve --demo`, and the
//! operations commands (`backup`, `prune`).

pub mod demo;
pub mod fixtures;
pub mod operations;
pub mod synth;
