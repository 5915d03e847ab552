//! The Iran-focused collection shipped with Portcullis (`data/indicators/iran-state-linked.stix2`),
//! made from Maltrail's trails of the Iranian state-linked actors named by the parliamentary
//! authorities: one `malware` object per actor, with its aliases and every `# Reference:` of
//! its trail. `scripts/iran-collection.sh` regenerates it; a test checks the committed file
//! is what the trails give, byte for byte.

use std::path::Path;

use crate::model::{Actor, Collection};
use crate::{ImportError, plain};

/// The collection's name (its bundle id is made from it).
pub const NAME: &str = "iran-state-linked";

/// `created` of every object: the date of the Maltrail snapshot the trails come from (a
/// fixed date, so the file regenerates byte for byte).
pub const SNAPSHOT_DATE: &str = "2026-01-28T00:00:00.000Z";

/// The Maltrail repository, the source the references are cited from.
pub const SOURCE: &str = "https://github.com/stamparm/maltrail";

/// (trail file, actor name, what the actor is), in the order the collections load.
pub const ACTORS: &[(&str, &str, &str)] = &[
    (
        "apt_charmingkitten.txt",
        "Charming Kitten (APT42)",
        "Iranian state-linked espionage group (IRGC-IO) known for credential phishing of \
         politicians, journalists, activists and researchers.",
    ),
    (
        "apt_domestickitten.txt",
        "Domestic Kitten",
        "Iranian state-linked surveillance operation using Android spyware (FurBall) against \
         Iranian citizens.",
    ),
    (
        "android_ratmilad.txt",
        "RatMilad",
        "Android spyware attributed to the Iranian AppMilad group, spread as a number-spoofing app.",
    ),
    (
        "apt_ferociouskitten.txt",
        "Ferocious Kitten",
        "Iranian surveillance group targeting Persian-speaking individuals with MarkiRAT.",
    ),
    (
        "apt_imperialkitten.txt",
        "Imperial Kitten",
        "IRGC-linked group (also Tortoiseshell) using watering holes and IMAPLoader.",
    ),
    (
        "apt_rampantkitten.txt",
        "Rampant Kitten",
        "Iranian surveillance group targeting dissidents through Android and Telegram-stealing malware.",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum IranError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Import { path: String, source: ImportError },
}

/// The bundle made from the trails in `trails` (Maltrail's `trails/static/malware` files
/// and its `LICENSE`).
pub fn generate(trails: &Path) -> Result<Vec<u8>, IranError> {
    let read = |name: &str| {
        let path = trails.join(name);
        std::fs::read(&path).map_err(|source| IranError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let licence = String::from_utf8_lossy(&read("LICENSE")?)
        .trim()
        .to_string();
    let copyright = licence
        .lines()
        .find(|l| l.starts_with("Copyright"))
        .unwrap_or("Copyright (c) Maltrail developers")
        .to_string();
    let mut actors: Vec<Actor> = Vec::new();
    for &(file, name, about) in ACTORS {
        let bytes = read(file)?;
        let imported = crate::text(&bytes)
            .and_then(|text| plain::parse(text, name, SNAPSHOT_DATE))
            .map_err(|source| IranError::Import {
                path: file.to_string(),
                source,
            })?;
        for mut actor in imported.collection.actors {
            actor.description = Some(format!(
                "{about}\n\nIndicators from Maltrail's trail {file} ({SOURCE}), MIT licence: \
                 {copyright}. The full licence is in this bundle's note."
            ));
            actors.push(actor);
        }
    }
    let collection = Collection {
        name: NAME.to_string(),
        created: SNAPSHOT_DATE.to_string(),
        actors,
        licence: Some(licence),
    };
    Ok(crate::bundle_bytes(&collection, "maltrail"))
}
