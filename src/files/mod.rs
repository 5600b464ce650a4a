//! Tier 2: what a generated file is — one specification per file type
//! (`spec`), the DAIMS column layouts (`layouts`) and the broker's file
//! names (`names`).

pub mod layouts;
pub mod names;
pub mod spec;

pub use layouts::{Column, Layout, layout};
pub use spec::{FileSpec, spec};
