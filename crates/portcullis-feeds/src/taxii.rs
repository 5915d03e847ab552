//! A TAXII 2.1 client: discovery → API root → one collection's objects, synchronised
//! incrementally into one installed STIX bundle.
//!
//! Servers differ in ways that make naive clients lose or repeat objects: many objects can
//! share one `date_added` (a POST of an envelope stamps them all alike), a page boundary can
//! fall between them, and some servers treat `added_after` as inclusive. So every request
//! asks for a little *more* than needed (`added_after` one microsecond before the cursor,
//! which makes every server inclusive) and drops what is already held: the cursor keeps the
//! last `date_added` and the `(id, modified)` pairs seen at its page, and the installed
//! bundle is the set of objects held. Nothing is lost; nothing counts twice.
//!
//! Secrets never reach the manifest: the state keeps where the secret is read from (an
//! environment variable's name or a file's path) and the secret is read at each sync.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ureq::Agent;

use crate::store::{Installed, Lock, Manifest, SourceKind, Store, now, sha256_hex, verify};
use crate::update::{MAX_COLLECTION_BYTES, Outcome};

/// The media type TAXII 2.1 servers answer with (and want to be asked for).
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// Most bytes of one discovery, API-root or objects answer.
const MAX_PAGE_BYTES: u64 = 64 << 20;
/// Most pages one sync follows: a server that never stops paging is refused.
pub const MAX_PAGES: usize = 1000;
/// Objects asked for per page (servers may send fewer).
const PAGE_LIMIT: usize = 1000;
/// Retries of one request answered 429 or 503.
const MAX_RETRIES: u32 = 5;
/// Longest wait asked by a Retry-After that is honoured; a longer one is cut to this.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Most bytes of a secret file (a token or password, not a document).
const MAX_SECRET_BYTES: u64 = 64 << 10;

/// Where a secret is read from. Never the secret itself: this is saved in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    Basic { user: String, password: SecretRef },
    Bearer { token: SecretRef },
}

/// Where the next sync resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The latest `date_added` the server reported (`X-TAXII-Date-Added-Last`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_last: Option<String>,
    /// `(id, modified)` of the objects received on the page that ended at `added_last`: an
    /// inclusive server sends them again, and they are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_at_last: Vec<(String, String)>,
}

/// What `Installed.state` holds for a TAXII collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxiiState {
    /// The API root (ending in `/`), found from the address given.
    pub api_root: String,
    pub collection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub cursor: Cursor,
}

#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("{url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: the server answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: the server still answered {status} after {MAX_RETRIES} retries")]
    GaveUp { url: String, status: u16 },
    #[error("{url}: not a TAXII answer (content type {content_type:?}, expected {MEDIA_TYPE})")]
    ContentType { url: String, content_type: String },
    #[error("{url}: not TAXII JSON: {reason}")]
    NotJson { url: String, reason: String },
    #[error("{url}: larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: only http:// and https:// addresses can be used")]
    Scheme { url: String },
    #[error("{url}: neither a TAXII discovery nor an API root (no `api_roots`, no `versions`)")]
    NotTaxii { url: String },
    #[error("{url}: the server pages in a loop (`next` {next:?} came back)")]
    Loop { url: String, next: String },
    #[error("{url}: more than {MAX_PAGES} pages; refused")]
    TooManyPages { url: String },
    #[error("{url}: the objects add up to more than {limit} bytes")]
    TooMuch { url: String, limit: u64 },
    #[error("the secret could not be read from {what}: {reason}")]
    Secret { what: String, reason: String },
}

/// A request as this client makes them: the TAXII media type, authentication, bounded body,
/// and bounded retries of 429/503 honouring Retry-After (waited through `sleep`, which
/// tests replace).
struct Client<'a> {
    agent: &'a Agent,
    authorization: Option<String>,
    sleep: &'a dyn Fn(Duration),
}

struct Page {
    body: Value,
    added_last: Option<String>,
}

impl Client<'_> {
    fn get(&self, url: &str) -> Result<Page, TaxiiError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(TaxiiError::Scheme { url: url.into() });
        }
        let transport = |source| TaxiiError::Transport {
            url: url.into(),
            source: Box::new(source),
        };
        let mut retries = 0;
        let mut response = loop {
            let mut request = self.agent.get(url).header("Accept", MEDIA_TYPE);
            if let Some(value) = &self.authorization {
                request = request.header("Authorization", value);
            }
            let response = request.call().map_err(transport)?;
            let status = response.status().as_u16();
            if !matches!(status, 429 | 503) {
                break response;
            }
            if retries == MAX_RETRIES {
                return Err(TaxiiError::GaveUp {
                    url: url.into(),
                    status,
                });
            }
            retries += 1;
            let wait = header(&response, "retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs)
                .min(MAX_RETRY_WAIT);
            tracing::info!(url, status, ?wait, retries, "TAXII server asks to wait");
            (self.sleep)(wait);
        };
        let status = response.status().as_u16();
        if status != 200 {
            return Err(TaxiiError::Status {
                url: url.into(),
                status,
            });
        }
        let content_type = header(&response, "content-type").unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !matches!(essence, "application/taxii+json" | "application/json") {
            return Err(TaxiiError::ContentType {
                url: url.into(),
                content_type,
            });
        }
        let added_last = header(&response, "x-taxii-date-added-last");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => TaxiiError::TooLarge {
                    url: url.into(),
                    limit: MAX_PAGE_BYTES,
                },
                other => transport(other),
            })?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| TaxiiError::NotJson {
            url: url.into(),
            reason: e.to_string(),
        })?;
        if !body.is_object() {
            return Err(TaxiiError::NotJson {
                url: url.into(),
                reason: "not a JSON object".into(),
            });
        }
        Ok(Page { body, added_last })
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Auth {
    /// The `Authorization` header value, reading the secret now.
    fn header(&self) -> Result<String, TaxiiError> {
        Ok(match self {
            Auth::Basic { user, password } => {
                let pair = format!("{user}:{}", password.read()?);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Auth::Bearer { token } => format!("Bearer {}", token.read()?),
        })
    }
}

impl SecretRef {
    fn read(&self) -> Result<String, TaxiiError> {
        let (what, value) = match self {
            SecretRef::Env(var) => (
                format!("the environment variable {var}"),
                std::env::var(var).map_err(|e| e.to_string()),
            ),
            SecretRef::File(path) => (path.display().to_string(), read_secret_file(path)),
        };
        let value = value.map_err(|reason| TaxiiError::Secret {
            what: what.clone(),
            reason,
        })?;
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(TaxiiError::Secret {
                what,
                reason: "it is empty".into(),
            });
        }
        Ok(value)
    }
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// `url` with a trailing `/`, the form TAXII gives its API roots in.
fn with_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// An API root named by a discovery answer, which may be relative to the discovery address.
fn resolve(base: &str, reference: &str) -> String {
    if reference.starts_with("https://") || reference.starts_with("http://") {
        return reference.to_string();
    }
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    if reference.starts_with('/') {
        format!("{}{reference}", &base[..origin_end])
    } else {
        format!("{}{reference}", with_slash(base))
    }
}

/// The API root for `url`, which may be a discovery address (its default root, else its
/// first) or an API root itself.
fn api_root(client: &Client<'_>, url: &str) -> Result<String, TaxiiError> {
    let page = client.get(url)?;
    let body = &page.body;
    if body.get("versions").is_some() {
        return Ok(with_slash(url));
    }
    let chosen = body
        .get("default")
        .and_then(Value::as_str)
        .or_else(|| {
            body.get("api_roots")
                .and_then(Value::as_array)
                .and_then(|roots| roots.iter().find_map(Value::as_str))
        })
        .ok_or_else(|| TaxiiError::NotTaxii { url: url.into() })?;
    let root = with_slash(&resolve(url, chosen));
    let checked = client.get(&root)?;
    if checked.body.get("versions").is_none() {
        return Err(TaxiiError::NotTaxii { url: root });
    }
    Ok(root)
}

/// The API root that `url` (a discovery address or an API root) leads to, as `add` finds it.
pub fn discover(
    agent: &Agent,
    url: &str,
    auth: Option<&Auth>,
    sleep: &dyn Fn(Duration),
) -> Result<String, TaxiiError> {
    let client = Client {
        agent,
        authorization: auth.map(Auth::header).transpose()?,
        sleep,
    };
    api_root(&client, url)
}

/// One object's `modified` (or `created`, for objects that are never modified): with the id,
/// what tells two versions apart.
fn version(object: &Value) -> Option<(&str, &str)> {
    let id = object.get("id")?.as_str()?;
    let modified = object
        .get("modified")
        .or_else(|| object.get("created"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Some((id, modified))
}

/// Whether version `a` is newer than `b`: timestamps compared as instants, as text when
/// one does not parse (which keeps the comparison total on hostile input).
fn newer(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// `added_after` for a request resuming at `last`: one microsecond earlier, so that a server
/// that treats `added_after` as exclusive sends the objects stamped `last` that were not yet
/// received (a page may have ended between them) — those already held are dropped.
fn inclusive(last: &str) -> String {
    match last.parse::<jiff::Timestamp>() {
        Ok(t) => t
            .checked_sub(jiff::SignedDuration::from_micros(1))
            .unwrap_or(t)
            .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        Err(_) => last.to_string(),
    }
}

/// What one sync brought.
#[derive(Debug, Default)]
pub struct Synced {
    /// Objects new or newer than the held version, by id.
    pub changed: BTreeMap<String, Value>,
    pub cursor: Cursor,
    pub pages: usize,
}

/// Fetches the objects added to `state.collection` since `state.cursor`, dropping those
/// already held (`held`: id → modified).
pub fn fetch(
    agent: &Agent,
    state: &TaxiiState,
    held: &BTreeMap<String, String>,
    sleep: &dyn Fn(Duration),
) -> Result<Synced, TaxiiError> {
    let client = Client {
        agent,
        authorization: state.auth.as_ref().map(Auth::header).transpose()?,
        sleep,
    };
    let objects_url = format!(
        "{}collections/{}/objects/",
        with_slash(&state.api_root),
        state.collection
    );
    let mut synced = Synced {
        cursor: state.cursor.clone(),
        ..Synced::default()
    };
    // Every `(id, modified)` received in this sync: a `next` token that comes back is a loop
    // only when its page brought none not received before (medallion, the reference server,
    // legitimately hands out one token for all the pages of a query).
    let mut received: BTreeSet<(String, String)> = BTreeSet::new();
    let mut nexts = BTreeSet::new();
    let mut next: Option<String> = None;
    // `next` belongs to the query that produced it, so `added_after` changes only when
    // paging by `X-TAXII-Date-Added-Last` alone.
    let mut after = synced.cursor.added_last.clone();
    // Whether `after` is sent as it is (exclusive) rather than a microsecond earlier: only
    // once a whole page stamped `after` came back with nothing new, which means the objects
    // sharing that date fill a page and asking inclusively again would loop.
    let mut exact = false;
    let mut total = 0u64;
    loop {
        if synced.pages == MAX_PAGES {
            return Err(TaxiiError::TooManyPages { url: objects_url });
        }
        let mut url = format!("{objects_url}?limit={PAGE_LIMIT}");
        if let Some(last) = &after {
            url.push_str("&added_after=");
            let value = if exact { last.clone() } else { inclusive(last) };
            url.push_str(&encode(&value));
        }
        if let Some(n) = &next {
            url.push_str("&next=");
            url.push_str(&encode(n));
        }
        let page = client.get(&url)?;
        synced.pages += 1;
        let objects = match page.body.get("objects") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => {
                return Err(TaxiiError::NotJson {
                    url,
                    reason: "`objects` is not a list".into(),
                });
            }
        };
        let seen: BTreeSet<(&str, &str)> = synced
            .cursor
            .seen_at_last
            .iter()
            .map(|(i, m)| (i.as_str(), m.as_str()))
            .collect();
        let mut fresh = 0;
        let mut page_seen = Vec::new();
        for object in objects {
            let Some((id, modified)) = version(object) else {
                tracing::warn!(url, "an object without an id was skipped");
                continue;
            };
            page_seen.push((id.to_string(), modified.to_string()));
            if seen.contains(&(id, modified)) {
                continue;
            }
            let known = synced
                .changed
                .get(id)
                .and_then(version)
                .map(|(_, m)| m)
                .or(held.get(id).map(String::as_str));
            if known.is_some_and(|k| !newer(modified, k)) {
                continue;
            }
            total += object.to_string().len() as u64;
            if total > MAX_COLLECTION_BYTES {
                return Err(TaxiiError::TooMuch {
                    url: objects_url,
                    limit: MAX_COLLECTION_BYTES,
                });
            }
            fresh += 1;
            synced.changed.insert(id.to_string(), object.clone());
        }
        let mut progressed = false;
        for pair in &page_seen {
            progressed |= received.insert(pair.clone());
        }
        let previous = synced.cursor.added_last.clone();
        if let Some(last) = page.added_last {
            if synced.cursor.added_last.as_deref() == Some(last.as_str()) {
                synced.cursor.seen_at_last.extend(page_seen);
            } else {
                synced.cursor.added_last = Some(last);
                synced.cursor.seen_at_last = page_seen;
            }
            synced.cursor.seen_at_last.sort();
            synced.cursor.seen_at_last.dedup();
        }
        let more = page.body.get("more").and_then(Value::as_bool) == Some(true);
        if !more || objects.is_empty() {
            return Ok(synced);
        }
        match page.body.get("next").and_then(Value::as_str) {
            Some(n) => {
                if !nexts.insert(n.to_string()) && !progressed {
                    return Err(TaxiiError::Loop {
                        url: objects_url,
                        next: n.to_string(),
                    });
                }
                next = Some(n.to_string());
            }
            // Paging by `added_after` alone: a page that neither advances the cursor nor
            // brings anything new would come back for ever.
            None => {
                let stuck = fresh == 0 && synced.cursor.added_last == previous;
                if stuck && exact {
                    return Err(TaxiiError::Loop {
                        url: objects_url,
                        next: synced.cursor.added_last.unwrap_or_default(),
                    });
                }
                if stuck {
                    tracing::warn!(
                        url,
                        "a whole page shares one date_added and the server gives no `next`; \
                         going on after it (objects beyond that page stamped alike cannot be \
                         reached)"
                    );
                }
                exact = stuck;
                next = None;
                after = synced.cursor.added_last.clone();
            }
        }
    }
}

/// Percent-encodes a query value (timestamps hold `:` and `+`; `next` is opaque).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The objects of an installed bundle, by id (none when it is missing or unreadable: the
/// sync then starts over from the beginning, which the caller arranges).
fn held_objects(path: &Path) -> Option<BTreeMap<String, Value>> {
    let bytes = std::fs::read(path).ok()?;
    let bundle: Value = serde_json::from_slice(&bytes).ok()?;
    let objects = bundle.get("objects")?.as_array()?;
    Some(
        objects
            .iter()
            .filter_map(|o| Some((o.get("id")?.as_str()?.to_string(), o.clone())))
            .collect(),
    )
}

/// The bundle of every object held, sorted by id so that the same objects give the same
/// bytes (and so the same SHA-256) whatever order they came in.
fn bundle(state: &TaxiiState, objects: &BTreeMap<String, Value>) -> Vec<u8> {
    let digest = sha256_hex(format!("{}\n{}", state.api_root, state.collection).as_bytes());
    let id = format!(
        "bundle--{}-{}-4{}-8{}-{}",
        &digest[..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    );
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": id,
        "objects": objects.values().collect::<Vec<_>>(),
    });
    let mut bytes = serde_json::to_vec_pretty(&bundle).expect("JSON values serialise");
    bytes.push(b'\n');
    bytes
}

/// What `iocs add-taxii` was given: an address (discovery or API root), a collection id,
/// the name to install it as, and how to authenticate.
pub struct AddTaxii<'a> {
    pub url: &'a str,
    pub collection: &'a str,
    pub name: &'a str,
    pub auth: Option<Auth>,
}

/// Finds the API root of `add.url` and installs collection `add.collection` as `add.name`
/// with everything it holds (objects already installed under that name are kept and not
/// counted again). A server that cannot be used is reported as [`Outcome::Failed`]; only a
/// store that cannot be written is an error.
pub fn add(
    store: &Store,
    agent: &Agent,
    add: AddTaxii<'_>,
    sleep: &dyn Fn(Duration),
) -> Result<(Outcome, Installed), crate::StoreError> {
    let lock = store.lock()?;
    let mut manifest = store.manifest()?;
    let client = Client {
        agent,
        authorization: match add.auth.as_ref().map(Auth::header).transpose() {
            Ok(a) => a,
            Err(e) => return Ok((Outcome::Failed(e.to_string()), placeholder(&add))),
        },
        sleep,
    };
    let root = match api_root(&client, add.url) {
        Ok(r) => r,
        Err(e) => return Ok((Outcome::Failed(e.to_string()), placeholder(&add))),
    };
    let state = TaxiiState {
        api_root: root,
        collection: add.collection.to_string(),
        auth: add.auth.clone(),
        cursor: Cursor::default(),
    };
    let mut entry = placeholder(&add);
    entry.state = Some(serde_json::to_value(&state).expect("state serialises"));
    let outcome = sync(store, &lock, &mut manifest, agent, add.name, entry, sleep);
    store.save_manifest(&lock, &manifest)?;
    let installed = manifest
        .collections
        .get(add.name)
        .cloned()
        .unwrap_or_else(|| placeholder(&add));
    Ok((outcome, installed))
}

/// Synchronises the installed TAXII collection `name` on its own (what `update` does for
/// each of them), saving the manifest.
pub fn sync_installed(
    store: &Store,
    agent: &Agent,
    name: &str,
    sleep: &dyn Fn(Duration),
) -> Result<Outcome, crate::StoreError> {
    let lock = store.lock()?;
    let mut manifest = store.manifest()?;
    let entry = manifest
        .collections
        .get(name)
        .filter(|i| i.kind == SourceKind::Taxii)
        .cloned()
        .ok_or_else(|| crate::StoreError::Unknown(name.into()))?;
    let outcome = sync(store, &lock, &mut manifest, agent, name, entry, sleep);
    store.save_manifest(&lock, &manifest)?;
    Ok(outcome)
}

fn placeholder(add: &AddTaxii<'_>) -> Installed {
    Installed {
        title: format!("TAXII collection {}", add.collection),
        ..Installed::empty(SourceKind::Taxii, add.url)
    }
}

/// Synchronises the TAXII collection `entry` (installed as `name` or about to be): fetches
/// what was added since its cursor, merges it into the objects held (a newer `modified`
/// replaces, so a revoked version replaces the live one), checks the bundle loads and
/// installs it whole. On failure nothing installed changes and the cursor stays.
pub fn sync(
    store: &Store,
    lock: &Lock,
    manifest: &mut Manifest,
    agent: &Agent,
    name: &str,
    mut entry: Installed,
    sleep: &dyn Fn(Duration),
) -> Outcome {
    let result = (|| -> Result<Option<(Installed, Vec<u8>)>, String> {
        let mut state: TaxiiState = entry
            .state
            .clone()
            .ok_or("no TAXII state recorded")
            .and_then(|s| serde_json::from_value(s).map_err(|_| "damaged TAXII state"))
            .map_err(|e| format!("{}: {e}; add it again", entry.source))?;
        let path = store.collections_dir().join(format!("{name}.stix2"));
        let installed = manifest.collections.contains_key(name);
        let mut objects = match held_objects(&path) {
            Some(o) if installed => o,
            // Nothing held (first sync, or the file went missing): start from the beginning.
            _ => {
                state.cursor = Cursor::default();
                BTreeMap::new()
            }
        };
        let held: BTreeMap<String, String> = objects
            .iter()
            .filter_map(|(id, o)| Some((id.clone(), version(o)?.1.to_string())))
            .collect();
        let synced = fetch(agent, &state, &held, sleep).map_err(|e| e.to_string())?;
        tracing::info!(
            name,
            changed = synced.changed.len(),
            pages = synced.pages,
            "TAXII sync"
        );
        let changed = !synced.changed.is_empty() || !installed;
        state.cursor = synced.cursor;
        entry.state = Some(serde_json::to_value(&state).expect("state serialises"));
        entry.checked_at = now();
        entry.last_error = None;
        if !changed {
            return Ok(None);
        }
        objects.extend(synced.changed);
        let bytes = bundle(&state, &objects);
        let verified = verify(&bytes, &entry.source).map_err(|e| e.to_string())?;
        entry.sha256 = verified.sha256;
        entry.counts = verified.counts;
        entry.bytes = bytes.len() as u64;
        entry.installed_at = entry.checked_at.clone();
        Ok(Some((entry.clone(), bytes)))
    })();
    let installed = manifest.collections.contains_key(name);
    match result {
        Ok(None) => {
            manifest.collections.insert(name.to_string(), entry);
            Outcome::Unchanged
        }
        Ok(Some((entry, bytes))) => match store.install(lock, manifest, name, entry, &bytes) {
            Ok(_) if installed => Outcome::Updated,
            Ok(_) => Outcome::Installed,
            Err(e) => Outcome::Failed(e.to_string()),
        },
        Err(why) => {
            if let Some(held) = manifest.collections.get_mut(name) {
                held.last_error = Some(why.clone());
            }
            Outcome::Failed(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_timestamps() {
        assert_eq!(
            resolve("https://t.example/taxii2/", "/api1/"),
            "https://t.example/api1/"
        );
        assert_eq!(
            resolve("https://t.example/taxii2/", "api1/"),
            "https://t.example/taxii2/api1/"
        );
        assert_eq!(
            resolve("https://t.example/taxii2/", "https://o.example/r/"),
            "https://o.example/r/"
        );
        assert_eq!(
            inclusive("2024-01-02T03:04:05.000Z"),
            "2024-01-02T03:04:04.999999Z"
        );
        assert_eq!(inclusive("garbage"), "garbage");
        assert!(newer("2024-01-02T00:00:00.001Z", "2024-01-02T00:00:00Z"));
        assert!(!newer("2024-01-02T00:00:00Z", "2024-01-02T00:00:00.000Z"));
        assert_eq!(encode("2024-01-02T03:04:05Z"), "2024-01-02T03%3A04%3A05Z");
    }
}
