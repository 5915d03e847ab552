//! One module per artifact. Adding an artifact: write its file here and add it to [`all`].

mod global_preferences;

use crate::Module;

/// Every module run on an iOS backup, in MVT's order.
pub fn all() -> Vec<&'static dyn Module> {
    vec![&global_preferences::GlobalPreferences]
}
