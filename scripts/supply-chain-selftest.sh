#!/usr/bin/env bash
# Feeds cargo-deny, with the project's own deny.toml, a deliberately bad manifest: a dependency
# under GPL-3.0 (not combinable with Apache-2.0) and smallvec 1.6.0 (RUSTSEC-2021-0003 in the
# advisory snapshot). Each named check must fail and name the culprit; if one passes, the
# policy has stopped protecting the project and this script fails.
# Usage: supply-chain-selftest.sh [advisories] [licenses]   (run by scripts/supply-chain.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work="$root/target/supply-chain-selftest"
rm -rf "$work"
mkdir -p "$work/copyleft/src" "$work/app/src"
cat >"$work/copyleft/Cargo.toml" <<'TOML'
[package]
name = "copyleft-dependency"
version = "1.0.0"
edition = "2021"
license = "GPL-3.0-only"
description = "stands for any dependency whose licence Apache-2.0 cannot absorb"
TOML
: >"$work/copyleft/src/lib.rs"
cat >"$work/app/Cargo.toml" <<'TOML'
[package]
name = "bad-manifest"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
copyleft-dependency = { path = "../copyleft" }
smallvec = "=1.6.0"

[workspace]
TOML
: >"$work/app/src/lib.rs"
sed "s#^db-path = .*#db-path = \"$root/target/advisory-db\"#" deny.toml >"$work/app/deny.toml"
(cd "$work/app" && cargo generate-lockfile -q && cargo fetch -q)

for check in "$@"; do
  case "$check" in
    advisories) culprit="RUSTSEC-2021-0003" ;;
    licenses) culprit="GPL-3.0-only" ;;
    *) echo "unknown check $check" >&2; exit 2 ;;
  esac
  if out=$(cd "$work/app" && cargo deny --offline check "$check" 2>&1); then
    echo "$out"
    echo "supply-chain self-test: cargo deny check $check PASSED a bad manifest" >&2
    exit 1
  fi
  if ! grep -q "$culprit" <<<"$out"; then
    echo "$out"
    echo "supply-chain self-test: cargo deny check $check failed without naming $culprit" >&2
    exit 1
  fi
  echo "supply-chain self-test: cargo deny check $check fails on the bad manifest ($culprit), as it must"
done
