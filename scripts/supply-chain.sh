#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy in deny.toml): licences compatible with Apache-2.0,
# one crypto provider and one HTTP client, crates.io as the only source, and RustSec advisories
# read offline from the snapshot in ../shared/advisory-db. Without the snapshot the advisory
# check is skipped and says so. Then proves the policy bites: scripts/supply-chain-selftest.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "== installing cargo-deny"
  cargo install --locked cargo-deny@0.20.2
fi
# cargo-deny reads `cargo metadata`, which needs every platform's crates in the local registry.
cargo fetch --locked >/dev/null

snapshot="$root/../shared/advisory-db"
if [ -d "$snapshot/crates" ]; then
  "$root/../shared/tools/advisory-db-install.sh" "$root/target/advisory-db"
  echo "== cargo deny: advisories (offline snapshot), bans, licences, sources"
  cargo deny --offline check
  checks="advisories licenses"
else
  echo "== cargo deny: advisories SKIPPED (no RustSec snapshot at ../shared/advisory-db);" \
    "bans, licences, sources checked"
  cargo deny --offline check bans licenses sources
  checks="licenses"
fi
scripts/supply-chain-selftest.sh $checks
