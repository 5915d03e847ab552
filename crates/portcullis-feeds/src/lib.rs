//! Indicator collections installed on this machine and kept current: the public index that
//! MVT reads, collections added from a file or an address, and those shipped inside
//! Portcullis. Every download is conditional, checked by loading it as a check would, and
//! installed whole with its provenance (source, times, SHA-256, licence); a failed one keeps
//! the copy already installed. Only the functions given an [`ureq::Agent`] use the network.

pub mod http;
pub mod index;
pub mod licence;
pub mod store;
pub mod taxii;
pub mod update;

pub use store::{Installed, Manifest, SourceKind, Store, StoreError};
pub use update::{Bundled, Outcome, UpdateOptions, UpdateReport, update};
