//! The parts of AOSP's `debuggerd/proto/tombstone.proto` that a tombstone record uses, written
//! by hand (no protoc here). Field numbers are AOSP's; every other field is skipped when
//! decoding. Text fields are read as bytes and decoded lossily, so a tombstone with invalid
//! UTF-8 still parses.

use std::collections::HashMap;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Tombstone {
    /// `Architecture` enum: ARM32, ARM64, X86, X86_64, RISCV64, NONE.
    #[prost(int32, tag = "1")]
    pub arch: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub build_fingerprint: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub revision: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub timestamp: Vec<u8>,
    #[prost(uint32, tag = "5")]
    pub pid: u32,
    #[prost(uint32, tag = "6")]
    pub tid: u32,
    #[prost(uint32, tag = "7")]
    pub uid: u32,
    #[prost(bytes = "vec", tag = "8")]
    pub selinux_label: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub command_line: Vec<Vec<u8>>,
    #[prost(message, optional, tag = "10")]
    pub signal_info: Option<Signal>,
    #[prost(bytes = "vec", tag = "14")]
    pub abort_message: Vec<u8>,
    #[prost(message, repeated, tag = "15")]
    pub causes: Vec<Cause>,
    #[prost(map = "uint32, message", tag = "16")]
    pub threads: HashMap<u32, Thread>,
    /// Seconds.
    #[prost(uint32, tag = "20")]
    pub process_uptime: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Signal {
    #[prost(int32, tag = "1")]
    pub number: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub name: Vec<u8>,
    #[prost(int32, tag = "3")]
    pub code: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub code_name: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Cause {
    #[prost(bytes = "vec", tag = "1")]
    pub human_readable: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub memory_error: Option<MemoryError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MemoryError {
    /// `Tool` enum: GWP_ASAN, SCUDO.
    #[prost(int32, tag = "1")]
    pub tool: i32,
    /// `Type` enum: UNKNOWN, USE_AFTER_FREE, DOUBLE_FREE, INVALID_FREE, BUFFER_OVERFLOW,
    /// BUFFER_UNDERFLOW.
    #[prost(int32, tag = "2")]
    pub kind: i32,
    #[prost(message, optional, tag = "3")]
    pub heap: Option<HeapObject>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HeapObject {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint64, tag = "2")]
    pub size: u64,
    #[prost(uint64, tag = "3")]
    pub allocation_tid: u64,
    #[prost(uint64, tag = "5")]
    pub deallocation_tid: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Thread {
    #[prost(int32, tag = "1")]
    pub id: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub name: Vec<u8>,
}

/// Name of an enum value of `names`, or the number when it is unknown (as protobuf keeps it).
pub(crate) fn enum_name(names: &[&str], value: i32) -> String {
    usize::try_from(value)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| value.to_string(), |n| (*n).to_string())
}

pub(crate) const ARCHITECTURES: &[&str] = &["ARM32", "ARM64", "X86", "X86_64", "RISCV64", "NONE"];
pub(crate) const MEMORY_TOOLS: &[&str] = &["GWP_ASAN", "SCUDO"];
pub(crate) const MEMORY_ERRORS: &[&str] = &[
    "UNKNOWN",
    "USE_AFTER_FREE",
    "DOUBLE_FREE",
    "INVALID_FREE",
    "BUFFER_OVERFLOW",
    "BUFFER_UNDERFLOW",
];
