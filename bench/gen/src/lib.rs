//! Large, realistic, seeded synthetic inputs for Portcullis's benchmarks (issue 5): iOS backups at
//! a chosen scale, Android bugreports with many packages and STIX 2.1 indicator bundles, each
//! with known planted indicator hits, plus the check that a checker found exactly those.
//!
//! The same seed always gives the same bytes.

pub mod android;
pub mod hits;
pub mod iocs;
pub mod ios;
pub mod network;
pub mod plants;
pub mod pools;
pub mod rng;
