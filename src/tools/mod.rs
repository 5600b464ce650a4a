//! Tier 3: data tools — the fixture loader (`fixtures load`, the tests, the
//! demo), the synthetic data of the benchmarks, and `serve --demo`.

pub mod demo;
pub mod fixtures;
pub mod synth;
