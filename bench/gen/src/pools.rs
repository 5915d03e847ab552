//! Vocabulary of the synthetic data: words for message text, everyday web sites, iOS daemons and
//! app bundle ids. Indicator values are made from [`SYLLABLES`] so that they never meet these.

use crate::rng::Rng;

pub const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "you",
    "I",
    "and",
    "is",
    "it",
    "for",
    "on",
    "we",
    "are",
    "at",
    "be",
    "have",
    "this",
    "that",
    "with",
    "can",
    "will",
    "me",
    "my",
    "your",
    "see",
    "ok",
    "yes",
    "no",
    "thanks",
    "thank",
    "please",
    "call",
    "later",
    "today",
    "tomorrow",
    "tonight",
    "morning",
    "meeting",
    "lunch",
    "dinner",
    "coffee",
    "office",
    "home",
    "train",
    "bus",
    "car",
    "late",
    "soon",
    "here",
    "there",
    "now",
    "just",
    "got",
    "get",
    "let",
    "know",
    "think",
    "need",
    "want",
    "sure",
    "great",
    "good",
    "nice",
    "love",
    "miss",
    "happy",
    "birthday",
    "weekend",
    "Monday",
    "Friday",
    "report",
    "draft",
    "document",
    "photo",
    "photos",
    "video",
    "send",
    "sent",
    "read",
    "check",
    "look",
    "article",
    "story",
    "news",
    "interview",
    "source",
    "lawyer",
    "court",
    "hearing",
    "protest",
    "press",
    "editor",
    "deadline",
    "flight",
    "hotel",
    "ticket",
    "booking",
    "address",
    "location",
    "map",
    "doctor",
    "school",
    "kids",
    "mum",
    "dad",
    "family",
    "friend",
    "team",
    "project",
    "update",
    "question",
    "answer",
    "problem",
    "idea",
    "plan",
    "money",
    "bank",
    "pay",
    "price",
    "market",
    "shop",
    "bread",
    "milk",
    "pick",
    "up",
    "down",
    "back",
    "out",
    "in",
    "from",
    "about",
    "what",
    "when",
    "where",
    "why",
    "how",
    "who",
    "which",
    "again",
    "still",
    "already",
    "maybe",
    "really",
    "very",
    "much",
    "more",
    "less",
    "all",
    "some",
    "any",
    "every",
    "one",
    "two",
    "three",
    "ten",
    "minutes",
    "hours",
    "days",
    "week",
    "month",
    "year",
    "😀",
    "👍",
    "❤️",
    "🙏",
];

/// Everyday sites (no URL shorteners: MVT would try to expand those over the network).
pub const SITES: &[&str] = &[
    "apple.com",
    "icloud.com",
    "google.com",
    "youtube.com",
    "wikipedia.org",
    "bbc.co.uk",
    "bbc.com",
    "nytimes.com",
    "theguardian.com",
    "reuters.com",
    "apnews.com",
    "cnn.com",
    "amazon.com",
    "ebay.com",
    "netflix.com",
    "spotify.com",
    "github.com",
    "stackoverflow.com",
    "reddit.com",
    "instagram.com",
    "facebook.com",
    "whatsapp.com",
    "linkedin.com",
    "microsoft.com",
    "office.com",
    "dropbox.com",
    "booking.com",
    "airbnb.com",
    "tripadvisor.com",
    "weather.com",
    "accuweather.com",
    "imdb.com",
    "paypal.com",
    "medium.com",
    "nature.com",
    "un.org",
    "who.int",
    "europa.eu",
    "gov.uk",
    "bund.de",
    "lemonde.fr",
    "elpais.com",
    "corriere.it",
    "aljazeera.com",
    "dw.com",
    "france24.com",
    "npr.org",
    "washingtonpost.com",
    "bloomberg.com",
    "ft.com",
    "economist.com",
    "zoom.us",
    "signal.org",
    "telegram.org",
    "mozilla.org",
    "duckduckgo.com",
    "yahoo.com",
    "bing.com",
    "openstreetmap.org",
    "khanacademy.org",
    "coursera.org",
    "archive.org",
    "amnesty.org",
    "hrw.org",
    "rsf.org",
    "cpj.org",
    "eff.org",
    "accessnow.org",
    "theatlantic.com",
    "propublica.org",
    "spiegel.de",
    "zeit.de",
    "repubblica.it",
    "nos.nl",
    "svt.se",
    "yle.fi",
    "abc.net.au",
    "cbc.ca",
    "lefigaro.fr",
    "ikea.com",
    "zara.com",
    "uber.com",
    "bolt.eu",
];

pub const SUBDOMAINS: &[&str] = &[
    "www", "www", "www", "m", "mobile", "news", "en", "support", "help", "shop", "login",
    "accounts", "static", "cdn", "docs", "blog", "maps", "mail",
];

pub const PATH_WORDS: &[&str] = &[
    "news", "world", "article", "story", "video", "watch", "search", "account", "settings",
    "product", "item", "help", "en", "us", "2023", "2024", "politics", "business", "tech",
    "science", "culture", "sport", "travel", "login", "profile", "docs", "wiki", "page", "post",
    "comments", "share", "live", "weather", "forecast",
];

/// iOS daemons and system processes that show up in DataUsage.sqlite.
pub const DAEMONS: &[&str] = &[
    "apsd",
    "nsurlsessiond",
    "mDNSResponder",
    "locationd",
    "itunesstored",
    "appstored",
    "cloudd",
    "identityservicesd",
    "imagent",
    "assistantd",
    "parsecd",
    "geod",
    "softwareupdated",
    "mobileassetd",
    "trustd",
    "akd",
    "adprivacyd",
    "searchpartyd",
    "bird",
    "findmydeviced",
    "healthd",
    "homed",
    "kernel_task",
    "syslogd",
    "timed",
    "wifid",
    "CommCenter",
    "symptomsd",
    "nanoregistryd",
    "coreduetd",
    "remindd",
    "mediaremoted",
    "photoanalysisd",
    "suggestd",
    "fitnesscoachingd",
    "weatherd",
    "newsd",
    "passd",
    "rapportd",
    "sharingd",
];

pub const APP_VENDORS: &[&str] = &[
    "com.apple",
    "com.google",
    "com.facebook",
    "net.whatsapp",
    "org.whispersystems",
    "ph.telegra",
    "com.spotify",
    "com.netflix",
    "com.microsoft",
    "com.dropbox",
    "com.booking",
    "com.airbnb",
    "com.ubercab",
    "com.burbn",
    "com.linkedin",
    "com.nytimes",
    "com.bbc",
    "com.guardian",
    "de.spiegel",
    "fr.lemonde",
    "com.duckduckgo",
    "org.mozilla",
    "com.zoom",
    "com.paypal",
];

pub const APP_NAMES: &[&str] = &[
    "Maps",
    "Weather",
    "News",
    "Music",
    "Mail",
    "Notes",
    "Photos",
    "Camera",
    "Podcasts",
    "Books",
    "Fitness",
    "Health",
    "Wallet",
    "Messenger",
    "Instagram",
    "Signal",
    "Telegram",
    "Docs",
    "Drive",
    "Outlook",
    "Teams",
    "Reader",
    "Player",
    "Scanner",
    "Translate",
    "Calendar",
    "Reminders",
];

/// Building blocks of indicator values: none of the words above is made from them.
pub const SYLLABLES: &[&str] = &[
    "zor", "kel", "vex", "mun", "tra", "qui", "pex", "lod", "fyn", "gar", "bix", "nok", "sul",
    "dra", "wem", "yat", "cro", "hib", "jul", "ost", "pry", "rav", "tuk", "vol", "zen", "axi",
    "bre", "cid", "dex", "fal",
];

pub const IOC_TLDS: &[&str] = &[
    "com", "net", "org", "info", "xyz", "online", "site", "live", "top", "biz",
];

/// A sentence of `n` words.
pub fn sentence(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let w = *rng.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push_str(w);
        }
    }
    s
}

/// A link to an everyday site.
pub fn benign_url(rng: &mut Rng, sites: &[&str]) -> String {
    let scheme = if rng.chance(0.03) { "http" } else { "https" };
    let site = rng.pick(sites);
    let host = if rng.chance(0.7) {
        format!("{}.{site}", rng.pick(SUBDOMAINS))
    } else {
        site.to_string()
    };
    let mut url = format!("{scheme}://{host}/");
    for _ in 0..rng.below(4) {
        let w = *rng.pick(PATH_WORDS);
        url.push_str(w);
        url.push('/');
    }
    if rng.chance(0.5) {
        url.push_str(&format!(
            "{}-{}",
            rng.pick(PATH_WORDS),
            rng.below(1_000_000)
        ));
    }
    if rng.chance(0.25) {
        url.push_str(&format!(
            "?id={}&ref={}",
            rng.below(100_000),
            rng.pick(PATH_WORDS)
        ));
    }
    url
}

/// A bundle id of an installed app.
pub fn bundle_id(rng: &mut Rng, n: u64) -> String {
    format!(
        "{}.{}{}",
        rng.pick(APP_VENDORS),
        rng.pick(APP_NAMES).to_lowercase(),
        if n > 0 { format!("{n}") } else { String::new() }
    )
}

/// A made-up name of `syllables` syllables, e.g. `kelvexmun`.
pub fn made_up(rng: &mut Rng, syllables: usize) -> String {
    (0..syllables).map(|_| *rng.pick(SYLLABLES)).collect()
}
