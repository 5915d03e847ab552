//! The log formats, one file each.

pub mod zeek;
