//! STIX 2.1 patterning: a hand-written lexer and recursive-descent parser.
//!
//! Only what a value-by-value scanner can use is kept: `=` (and `IN`, an OR in disguise) on the
//! object paths Portcullis knows. Everything else parses (so that the supported siblings of an
//! `OR` are still used) but is reported as unsupported with a reason, never as a fatal error.

use std::borrow::Cow;

use crate::IocType;
use crate::normalize::trim;

/// Longer patterns are refused: real indicators are short, and this bounds the work per pattern.
pub(crate) const MAX_PATTERN_LEN: usize = 64 * 1024;
/// Deepest `[`/`(` nesting accepted; keeps recursion (and the stack) bounded on hostile input.
pub(crate) const MAX_DEPTH: usize = 32;

/// One value an indicator contributes: the list it goes to and the literal as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atom<'a> {
    pub ioc_type: IocType,
    pub value: Cow<'a, str>,
}

/// Parses a pattern, appends the values a single lookup can match to `out` (see
/// docs/matching.md) and returns why any part of the pattern was left out.
pub(crate) fn parse<'a>(pattern: &'a str, out: &mut Vec<Atom<'a>>) -> Vec<String> {
    if let Some(atom) = simple(pattern) {
        out.push(atom);
        return Vec::new();
    }
    let mut notes = Vec::new();
    match parse_expr(pattern) {
        Ok(expr) => {
            collect(expr, out, &mut notes);
        }
        Err(reason) => notes.push(reason),
    }
    notes
}

/// `[object:property = 'value']` and nothing else: the shape of nearly every real indicator,
/// recognised without the general parser (loading a million of them must stay cheap). It
/// accepts a strict subset of what [`parse_expr`] accepts, with the same result; anything
/// unusual (escapes, quoted properties, operators, several comparisons) falls through.
fn simple(pattern: &str) -> Option<Atom<'_>> {
    if pattern.len() > MAX_PATTERN_LEN {
        return None;
    }
    let inner = trim(pattern).strip_prefix('[')?.strip_suffix(']')?;
    let (path, rest) = split_at_byte(inner, b'=')?;
    let value = trim(rest).strip_prefix('\'')?.strip_suffix('\'')?;
    if memchr::memchr2(b'\'', b'\\', value.as_bytes()).is_some() {
        return None;
    }
    let (object, properties) = split_at_byte(trim(path), b':')?;
    let (first, second) = match split_at_byte(properties, b'.') {
        Some((first, second)) => (first, Some(second)),
        None => (properties, None),
    };
    if !(is_word(object) && is_word(first) && second.is_none_or(is_word)) {
        return None;
    }
    let ioc_type = resolve(object, first, second)?;
    Some(Atom {
        ioc_type,
        value: Cow::Borrowed(value),
    })
}

/// `s` split around the first `byte` (ASCII), which is left out.
fn split_at_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let at = memchr::memchr(byte, s.as_bytes())?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// An object or property name as [`simple`] accepts it: a letter or `_`, then letters,
/// digits, `_` and `-`.
fn is_word(w: &str) -> bool {
    let Some((&first, rest)) = w.as_bytes().split_first() else {
        return false;
    };
    let mut word = first.is_ascii_alphabetic() || first == b'_';
    for &b in rest {
        word &= b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    }
    word
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(CmpOp),
    Str(Cow<'a, str>),
    /// `h'…'`, `b'…'` or `t'…'`: never a value Portcullis can compare.
    Typed,
    Num,
    Word(&'a str),
}

fn describe(tok: Option<&Tok<'_>>) -> String {
    match tok {
        None => "end of pattern".into(),
        Some(Tok::LBracket) => "'['".into(),
        Some(Tok::RBracket) => "']'".into(),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
        Some(Tok::Colon) => "':'".into(),
        Some(Tok::Dot) => "'.'".into(),
        Some(Tok::Star) => "'*'".into(),
        Some(Tok::Op(op)) => format!("'{}'", op.as_str()),
        Some(Tok::Str(_)) => "a string".into(),
        Some(Tok::Typed) => "a typed literal".into(),
        Some(Tok::Num) => "a number".into(),
        Some(Tok::Word(w)) => format!("'{}'", truncate(w, 40)),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next_tok(&mut self) -> Result<Option<Tok<'a>>, String> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let Some(c) = trimmed.chars().next() else {
            return Ok(None);
        };
        let start = self.pos;
        let single = |lexer: &mut Self, tok| {
            lexer.pos += 1;
            Ok(Some(tok))
        };
        match c {
            '[' => single(self, Tok::LBracket),
            ']' => single(self, Tok::RBracket),
            '(' => single(self, Tok::LParen),
            ')' => single(self, Tok::RParen),
            ',' => single(self, Tok::Comma),
            ':' => single(self, Tok::Colon),
            '.' => single(self, Tok::Dot),
            '*' => single(self, Tok::Star),
            '=' => single(self, Tok::Op(CmpOp::Eq)),
            '!' | '<' | '>' => {
                let eq = trimmed.as_bytes().get(1) == Some(&b'=');
                let op = match (c, eq) {
                    ('!', true) => CmpOp::Ne,
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    ('>', true) => CmpOp::Ge,
                    _ => return Err(format!("unexpected '!' at byte {start}")),
                };
                self.pos += if eq { 2 } else { 1 };
                Ok(Some(Tok::Op(op)))
            }
            '\'' => self.string().map(|s| Some(Tok::Str(s))),
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let len = trimmed
                    .bytes()
                    .skip(1)
                    .take_while(|b| {
                        b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+')
                    })
                    .count();
                if len == 0 && !c.is_ascii_digit() {
                    return Err(format!("unexpected '{c}' at byte {start}"));
                }
                self.pos += 1 + len;
                Ok(Some(Tok::Num))
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = trimmed
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
                    .count();
                let word = &trimmed[..len];
                self.pos += len;
                let typed = matches!(word, "h" | "b" | "t")
                    && self.src.as_bytes().get(self.pos) == Some(&b'\'');
                if typed {
                    self.string()?;
                    return Ok(Some(Tok::Typed));
                }
                Ok(Some(Tok::Word(word)))
            }
            c => Err(format!("unexpected character {c:?} at byte {start}")),
        }
    }

    /// A quoted literal starting at `self.pos`; `\'` and `\\` are unescaped, any other
    /// backslash is kept as written (lenient: STIX forbids it, but it is harmless).
    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        let bytes = self.src.as_bytes();
        let open = self.pos;
        let mut i = open + 1;
        let mut seg = i;
        let mut owned: Option<String> = None;
        loop {
            match bytes.get(i) {
                None => return Err(format!("unterminated string starting at byte {open}")),
                Some(b'\'') => {
                    // Quote and backslash are ASCII, so these indices are char boundaries.
                    let value = match owned {
                        Some(mut s) => {
                            s.push_str(&self.src[seg..i]);
                            Cow::Owned(s)
                        }
                        None => Cow::Borrowed(&self.src[seg..i]),
                    };
                    self.pos = i + 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.src[seg..i]);
                    match bytes.get(i + 1) {
                        Some(b'\'') => s.push('\''),
                        Some(b'\\') => s.push('\\'),
                        None => return Err(format!("unterminated string starting at byte {open}")),
                        Some(_) => {
                            s.push('\\');
                            i += 1;
                            seg = i;
                            continue;
                        }
                    }
                    i += 2;
                    seg = i;
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// A comparison once its object path and operator are known.
#[derive(Debug)]
enum Cmp<'a> {
    /// `path = 'v'` on a supported path (`IN` becomes an `OR` of these).
    Value(IocType, Cow<'a, str>),
    Unsupported(String),
}

#[derive(Debug)]
enum Expr<'a> {
    Cmp(Cmp<'a>),
    And(Vec<Expr<'a>>),
    Or(Vec<Expr<'a>>),
}

fn parse_expr(pattern: &str) -> Result<Expr<'_>, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern longer than {MAX_PATTERN_LEN} bytes"));
    }
    let mut parser = Parser {
        lexer: Lexer {
            src: pattern,
            pos: 0,
        },
        peeked: None,
    };
    let expr = parser.observations(0)?;
    match parser.next()? {
        None => Ok(expr),
        tok => Err(format!(
            "unexpected {} after the end of the pattern",
            describe(tok.as_ref())
        )),
    }
}

type Item<'a> = fn(&mut Parser<'a>, usize) -> Result<Expr<'a>, String>;

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Option<Tok<'a>>>,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<Option<&Tok<'a>>, String> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_tok()?);
        }
        Ok(self.peeked.as_ref().and_then(Option::as_ref))
    }

    fn next(&mut self) -> Result<Option<Tok<'a>>, String> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next_tok(),
        }
    }

    fn expect(&mut self, want: &Tok<'_>) -> Result<(), String> {
        let tok = self.next()?;
        if tok.as_ref() == Some(want) {
            Ok(())
        } else {
            Err(format!(
                "expected {} but found {}",
                describe(Some(want)),
                describe(tok.as_ref())
            ))
        }
    }

    /// True (and consumed) when the next token is the keyword `kw` (any case).
    fn keyword(&mut self, kw: &str) -> Result<bool, String> {
        let hit = matches!(self.peek()?, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw));
        if hit {
            self.next()?;
        }
        Ok(hit)
    }

    /// `item (kw item)*`; allocates only when the keyword actually occurs (the common pattern
    /// has a single comparison, and loading a million of them must stay cheap).
    fn chain(&mut self, depth: usize, kw: &str, item: Item<'a>) -> Result<Expr<'a>, String> {
        let first = item(self, depth)?;
        if !self.keyword(kw)? {
            return Ok(first);
        }
        let mut parts = vec![first, item(self, depth)?];
        while self.keyword(kw)? {
            parts.push(item(self, depth)?);
        }
        Ok(if kw == "OR" {
            Expr::Or(parts)
        } else {
            Expr::And(parts)
        })
    }

    /// Observation expressions joined by `FOLLOWEDBY` (loosest), treated as `AND`.
    fn observations(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        self.chain(depth, "FOLLOWEDBY", Self::observation_or)
    }

    fn observation_or(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        self.chain(depth, "OR", Self::observation_and)
    }

    fn observation_and(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        self.chain(depth, "AND", Self::observation)
    }

    fn observation(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        if depth >= MAX_DEPTH {
            return Err(format!("pattern nested deeper than {MAX_DEPTH} levels"));
        }
        let expr = match self.next()? {
            Some(Tok::LBracket) => {
                let expr = self.comparison_or(depth + 1)?;
                self.expect(&Tok::RBracket)?;
                expr
            }
            Some(Tok::LParen) => {
                let expr = self.observations(depth + 1)?;
                self.expect(&Tok::RParen)?;
                expr
            }
            tok => {
                return Err(format!(
                    "expected '[' or '(' but found {}",
                    describe(tok.as_ref())
                ));
            }
        };
        if let Some(Tok::Word(w)) = self.peek()? {
            for qualifier in ["WITHIN", "REPEATS", "START"] {
                if w.eq_ignore_ascii_case(qualifier) {
                    return Err(format!("qualifier {qualifier} is not supported"));
                }
            }
        }
        Ok(expr)
    }

    fn comparison_or(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        self.chain(depth, "OR", Self::comparison_and)
    }

    fn comparison_and(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        self.chain(depth, "AND", Self::test)
    }

    fn test(&mut self, depth: usize) -> Result<Expr<'a>, String> {
        if depth >= MAX_DEPTH {
            return Err(format!("pattern nested deeper than {MAX_DEPTH} levels"));
        }
        if self.peek()? == Some(&Tok::LParen) {
            self.next()?;
            let expr = self.comparison_or(depth + 1)?;
            self.expect(&Tok::RParen)?;
            return Ok(expr);
        }
        if self.keyword("EXISTS")? {
            let _ = self.path()?;
            return Ok(Expr::Cmp(Cmp::Unsupported(
                "EXISTS is not supported".into(),
            )));
        }
        let target = self.path()?;
        let negated = self.keyword("NOT")?;
        let op = match self.next()? {
            Some(Tok::Op(op)) => op.as_str().to_string(),
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            tok => {
                return Err(format!(
                    "expected a comparison operator but found {}",
                    describe(tok.as_ref())
                ));
            }
        };
        let values = self.value()?;
        let cmp = match target {
            Err(reason) => Cmp::Unsupported(reason),
            Ok(_) if negated => Cmp::Unsupported(format!("operator NOT {op} is not supported")),
            Ok(ioc_type) => match (op.as_str(), values) {
                ("=", Value::Single(Some(v))) => Cmp::Value(ioc_type, v),
                ("IN", Value::List(list)) => match list.into_iter().collect::<Option<Vec<_>>>() {
                    Some(list) => {
                        let each = |v| Expr::Cmp(Cmp::Value(ioc_type, v));
                        return Ok(Expr::Or(list.into_iter().map(each).collect()));
                    }
                    None => Cmp::Unsupported("IN list holds a value that is not a string".into()),
                },
                ("=" | "IN", _) => {
                    Cmp::Unsupported(format!("operator {op} with a value that is not a string"))
                }
                (
                    "LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET" | "!=" | "<" | "<=" | ">" | ">=",
                    _,
                ) => Cmp::Unsupported(format!("operator {op} is not supported")),
                _ => return Err(format!("unknown operator '{}'", truncate(&op, 40))),
            },
        };
        Ok(Expr::Cmp(cmp))
    }

    /// A literal, or a parenthesised list of literals (for `IN`).
    fn value(&mut self) -> Result<Value<'a>, String> {
        if self.peek()? == Some(&Tok::LParen) {
            self.next()?;
            let mut list = Vec::new();
            loop {
                list.push(self.literal()?);
                match self.next()? {
                    Some(Tok::Comma) => {}
                    Some(Tok::RParen) => return Ok(Value::List(list)),
                    tok => {
                        return Err(format!(
                            "expected ',' or ')' in a list but found {}",
                            describe(tok.as_ref())
                        ));
                    }
                }
            }
        }
        self.literal().map(Value::Single)
    }

    /// A string (`Some`) or another literal (`None`: number, boolean, typed literal).
    fn literal(&mut self) -> Result<Option<Cow<'a, str>>, String> {
        match self.next()? {
            Some(Tok::Str(s)) => Ok(Some(s)),
            Some(Tok::Num | Tok::Typed) => Ok(None),
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") =>
            {
                Ok(None)
            }
            tok => Err(format!(
                "expected a value but found {}",
                describe(tok.as_ref())
            )),
        }
    }

    /// `object-type:property(.property | [index])*`, resolved to a list (or why not).
    fn path(&mut self) -> Result<Result<IocType, String>, String> {
        let object = match self.next()? {
            Some(Tok::Word(w)) => w,
            tok => {
                return Err(format!(
                    "expected an object path but found {}",
                    describe(tok.as_ref())
                ));
            }
        };
        self.expect(&Tok::Colon)?;
        let first = self.component()?;
        let mut second = None;
        let mut extra = false;
        loop {
            match self.peek()? {
                Some(Tok::Dot) => {
                    self.next()?;
                    let c = self.component()?;
                    if second.is_none() {
                        second = Some(c);
                    } else {
                        extra = true;
                    }
                }
                Some(Tok::LBracket) => {
                    self.next()?;
                    match self.next()? {
                        Some(Tok::Num | Tok::Star) => {}
                        tok => {
                            return Err(format!(
                                "expected a list index but found {}",
                                describe(tok.as_ref())
                            ));
                        }
                    }
                    self.expect(&Tok::RBracket)?;
                    extra = true;
                }
                _ => break,
            }
        }
        let resolved = if extra {
            None
        } else {
            resolve(object, &first, second.as_deref())
        };
        Ok(resolved.ok_or_else(|| {
            let mut shown = format!("{}:{}", truncate(object, 40), truncate(&first, 40));
            if let Some(s) = &second {
                shown.push('.');
                shown.push_str(truncate(s, 40));
            }
            if extra {
                shown.push('…');
            }
            format!("unsupported object path {shown}")
        }))
    }

    fn component(&mut self) -> Result<Cow<'a, str>, String> {
        match self.next()? {
            Some(Tok::Word(w)) => Ok(Cow::Borrowed(w)),
            Some(Tok::Str(s)) => Ok(s),
            tok => Err(format!(
                "expected a property name but found {}",
                describe(tok.as_ref())
            )),
        }
    }
}

enum Value<'a> {
    Single(Option<Cow<'a, str>>),
    List(Vec<Option<Cow<'a, str>>>),
}

/// Maps an object path to the list it feeds, the way MVT names them.
fn resolve(object: &str, first: &str, second: Option<&str>) -> Option<IocType> {
    // Nearly always written in lower case: compared as is first.
    let is = |a: &str, b: &str| a == b || a.eq_ignore_ascii_case(b);
    let on = |o: &str, p: &str| is(object, o) && is(first, p);
    if on("file", "hashes") {
        return Some(match algorithm(second?)? {
            Hash::Md5 => IocType::FilesMd5,
            Hash::Sha1 => IocType::FilesSha1,
            Hash::Sha256 => IocType::FilesSha256,
        });
    }
    if on("x509-certificate", "hashes") {
        algorithm(second?)?;
        return Some(IocType::CertHashes);
    }
    if on("app", "cert") {
        algorithm(second?)?;
        return Some(IocType::AppCertHashes);
    }
    if second.is_some() {
        return None;
    }
    const SIMPLE: [(&str, &str, IocType); 11] = [
        ("domain-name", "value", IocType::Domains),
        ("ipv4-addr", "value", IocType::IpAddresses),
        ("ipv6-addr", "value", IocType::IpAddresses),
        ("url", "value", IocType::Urls),
        ("process", "name", IocType::Processes),
        ("email-addr", "value", IocType::Emails),
        ("file", "name", IocType::FileNames),
        ("file", "path", IocType::FilePaths),
        ("app", "id", IocType::AppIds),
        ("configuration-profile", "id", IocType::IosProfileIds),
        ("android-property", "name", IocType::AndroidPropertyNames),
    ];
    SIMPLE.iter().find(|(o, p, _)| on(o, p)).map(|&(_, _, t)| t)
}

/// `'SHA-256'`, `sha256`, `SHA_256` and `MD5` all name the same algorithms.
fn algorithm(alg: &str) -> Option<Hash> {
    let alg: String = alg
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    match alg.as_str() {
        "md5" => Some(Hash::Md5),
        "sha1" => Some(Hash::Sha1),
        "sha256" => Some(Hash::Sha256),
        _ => None,
    }
}

enum Hash {
    Md5,
    Sha1,
    Sha256,
}

/// Hashes identify the very object on their own, so they are the parts of an `AND` we keep.
fn is_hash(t: IocType) -> bool {
    matches!(
        t,
        IocType::FilesMd5
            | IocType::FilesSha1
            | IocType::FilesSha256
            | IocType::AppCertHashes
            | IocType::CertHashes
    )
}

/// Flattens an expression into values; returns whether it contributed any.
fn collect<'a>(expr: Expr<'a>, out: &mut Vec<Atom<'a>>, notes: &mut Vec<String>) -> bool {
    match expr {
        Expr::Cmp(Cmp::Value(ioc_type, value)) => {
            out.push(Atom { ioc_type, value });
            true
        }
        Expr::Cmp(Cmp::Unsupported(reason)) => {
            notes.push(reason);
            false
        }
        Expr::Or(parts) => {
            let mut any = false;
            for part in parts {
                any |= collect(part, out, notes);
            }
            any
        }
        Expr::And(parts) => {
            let mut inner = Vec::new();
            let mut ignored = Vec::new();
            for part in parts {
                collect(part, &mut inner, &mut ignored);
            }
            inner.retain(|a| is_hash(a.ioc_type));
            if inner.is_empty() {
                notes.push(
                    "AND without a file or certificate hash cannot be matched value by value"
                        .into(),
                );
                false
            } else {
                out.extend(inner);
                true
            }
        }
    }
}

/// The pattern parsers side by side, for the tests and the fuzz targets: the fast path must
/// agree with the general parser wherever it answers.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing {
    use super::{IocType, collect, parse_expr, simple};

    /// What the general parser made of a pattern.
    #[derive(Debug)]
    pub struct Parsed {
        /// The values a lookup can match: (type, literal as written).
        pub atoms: Vec<(IocType, String)>,
        /// Why parts of the pattern were left out.
        pub notes: Vec<String>,
    }

    /// Parses with the general parser only, and checks (panicking otherwise) that the fast
    /// path and what loading uses agree with it.
    pub fn parse_checked(p: &str) -> Parsed {
        let mut atoms = Vec::new();
        let notes = match parse_expr(p) {
            Ok(expr) => {
                let mut notes = Vec::new();
                collect(expr, &mut atoms, &mut notes);
                notes
            }
            Err(reason) => vec![reason],
        };
        if let Some(fast) = simple(p) {
            assert_eq!((atoms.as_slice(), notes.len()), (&[fast][..], 0), "{p}");
        }
        let mut via_parse = Vec::new();
        assert_eq!(super::parse(p, &mut via_parse), notes, "{p}");
        assert_eq!(via_parse, atoms, "{p}");
        Parsed {
            atoms: atoms
                .into_iter()
                .map(|a| (a.ioc_type, a.value.into_owned()))
                .collect(),
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fuzzing::parse_checked as parse;
    use super::*;

    fn atoms(p: &str) -> Vec<(IocType, String)> {
        parse(p).atoms
    }

    fn notes(p: &str) -> Vec<String> {
        parse(p).notes
    }

    #[test]
    fn simple_patterns() {
        assert_eq!(
            atoms("[domain-name:value='shortenurls.me']"),
            [(IocType::Domains, "shortenurls.me".into())]
        );
        assert_eq!(
            atoms("  [ url:value = 'http://x.org/' ] "),
            [(IocType::Urls, "http://x.org/".into())]
        );
        assert_eq!(
            atoms("[file:hashes.'SHA-256' = 'AB']"),
            [(IocType::FilesSha256, "AB".into())]
        );
        assert_eq!(
            atoms("[file:hashes.sha256 = 'ab']")[0].0,
            IocType::FilesSha256
        );
        assert_eq!(atoms("[file:hashes.MD5 = 'ab']")[0].0, IocType::FilesMd5);
        assert_eq!(
            atoms("[file:hashes.'SHA-1' = 'ab']")[0].0,
            IocType::FilesSha1
        );
        assert_eq!(
            atoms("[app:cert.sha256 = 'ab']")[0].0,
            IocType::AppCertHashes
        );
        assert_eq!(
            atoms("[app:cert.'SHA-1' = 'ab']")[0].0,
            IocType::AppCertHashes
        );
        assert_eq!(
            atoms("[ipv6-addr:value = '::1']")[0].0,
            IocType::IpAddresses
        );
        assert_eq!(
            atoms("[configuration-profile:id = 'x']")[0].0,
            IocType::IosProfileIds
        );
        assert_eq!(
            atoms("[android-property:name = 'x']")[0].0,
            IocType::AndroidPropertyNames
        );
    }

    #[test]
    fn escapes_and_equals_in_values() {
        assert_eq!(
            atoms(r"[url:value = 'https://x.org/a?b=c&d=\'e\'']"),
            [(IocType::Urls, "https://x.org/a?b=c&d='e'".into())]
        );
        assert_eq!(
            atoms(r"[file:path = 'C:\\dir\\x']"),
            [(IocType::FilePaths, r"C:\dir\x".into())]
        );
        // Unknown escapes are kept as written.
        assert_eq!(atoms(r"[file:name = 'a\.b']")[0].1, r"a\.b");
        assert_eq!(atoms("[file:name = 'ünï']")[0].1, "ünï");
    }

    #[test]
    fn or_and_lists() {
        assert_eq!(
            atoms(
                "[domain-name:value = 'a.com' OR domain-name:value = 'b.com'] OR [process:name = 'p']"
            ),
            [
                (IocType::Domains, "a.com".into()),
                (IocType::Domains, "b.com".into()),
                (IocType::Processes, "p".into())
            ]
        );
        assert_eq!(
            atoms("[domain-name:value IN ('a.com', 'b.com')]"),
            [
                (IocType::Domains, "a.com".into()),
                (IocType::Domains, "b.com".into())
            ]
        );
        // A partly supported OR keeps its supported branches and explains the rest.
        let p = parse("[domain-name:value = 'a.com' OR x-foo:bar = 'z']");
        assert_eq!(p.atoms.len(), 1);
        assert_eq!(p.notes, ["unsupported object path x-foo:bar"]);
    }

    #[test]
    fn and_keeps_hashes_only() {
        assert_eq!(
            atoms("[file:name = 'x.apk' AND file:hashes.'SHA-256' = 'aa']"),
            [(IocType::FilesSha256, "aa".into())]
        );
        assert_eq!(
            atoms("[file:name = 'x'] AND ([file:hashes.md5 = 'aa'] OR [file:hashes.sha1 = 'bb'])"),
            [
                (IocType::FilesMd5, "aa".into()),
                (IocType::FilesSha1, "bb".into())
            ]
        );
        assert!(atoms("[domain-name:value = 'a.com' AND process:name = 'p']").is_empty());
        assert_eq!(
            notes("[domain-name:value = 'a.com'] FOLLOWEDBY [process:name = 'p']").len(),
            1
        );
    }

    #[test]
    fn unsupported_is_explained() {
        let cases = [
            (
                "[domain-name:value MATCHES '^a']",
                "operator MATCHES is not supported",
            ),
            (
                "[domain-name:value LIKE 'a%']",
                "operator LIKE is not supported",
            ),
            ("[domain-name:value != 'a']", "operator != is not supported"),
            (
                "[domain-name:value NOT = 'a']",
                "operator NOT = is not supported",
            ),
            ("[file:size = 5]", "unsupported object path file:size"),
            (
                "[file:hashes.'SHA-512' = 'a']",
                "unsupported object path file:hashes.SHA-512",
            ),
            ("[x:y.z.w = 'a']", "unsupported object path x:y.z…"),
            (
                "[file:extensions[*].x = 'a']",
                "unsupported object path file:extensions.x…",
            ),
            (
                "[domain-name:value = 'a'] WITHIN 5 SECONDS",
                "qualifier WITHIN is not supported",
            ),
            (
                "[domain-name:value = 5]",
                "operator = with a value that is not a string",
            ),
            (
                "[domain-name:value = h'ab']",
                "operator = with a value that is not a string",
            ),
            (
                "[domain-name:value = true]",
                "operator = with a value that is not a string",
            ),
            ("[EXISTS file:name]", "EXISTS is not supported"),
        ];
        for (pattern, reason) in cases {
            let p = parse(pattern);
            assert!(p.atoms.is_empty(), "{pattern}");
            assert_eq!(p.notes, [reason], "{pattern}");
        }
    }

    #[test]
    fn malformed_patterns_do_not_panic() {
        let bad = [
            "",
            "[",
            "]",
            "[domain-name:value = 'a'",
            "[domain-name:value = 'a]",
            "[domain-name:value = 'a\\",
            "domain-name:value = 'a'",
            "[domain-name:value 'a']",
            "[domain-name:value = ]",
            "[domain-name:value = 'a'] extra",
            "[domain-name = 'a']",
            "[:value = 'a']",
            "[a:b = 'x' OR]",
            "[a:b IN ('x',]",
            "[a:b IN ('x' 'y')]",
            "[a:b = 'x'] OR",
            "[a:b ~ 'x']",
            "[a:b ! 'x']",
            "[a:b[ = 'x']",
            "[a:b.  = 'x']",
            "[a:b = -]",
            "[a:b FOO 'x']",
            "((((",
            "[é:b = 'x']",
            "\u{0}",
        ];
        for pattern in bad {
            let p = parse(pattern);
            assert!(p.atoms.is_empty(), "{pattern:?}");
            assert_eq!(p.notes.len(), 1, "{pattern:?}: {:?}", p.notes);
        }
    }

    #[test]
    fn nesting_and_length_are_capped() {
        let deep = format!("{}[a:b = 'x']{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(
            notes(&deep),
            [format!("pattern nested deeper than {MAX_DEPTH} levels")]
        );
        let deep = format!(
            "[{}domain-name:value = 'x'{}]",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert_eq!(
            notes(&deep),
            [format!("pattern nested deeper than {MAX_DEPTH} levels")]
        );
        let ok = format!(
            "{}[domain-name:value = 'x']{}",
            "(".repeat(20),
            ")".repeat(20)
        );
        assert_eq!(atoms(&ok).len(), 1);
        let long = format!("[domain-name:value = '{}']", "a".repeat(MAX_PATTERN_LEN));
        assert_eq!(
            notes(&long),
            [format!("pattern longer than {MAX_PATTERN_LEN} bytes")]
        );
    }

    #[test]
    fn fast_path_agrees_on_generated_patterns() {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "(",
            ")",
            "'",
            "\\",
            "=",
            "!=",
            " OR ",
            " AND ",
            " ",
            "domain-name:value",
            "file:hashes.sha256",
            "file:hashes.'SHA-1'",
            "process",
            ":",
            "name",
            ".",
            "'a.com'",
            "'x=y'",
            "é",
            "5",
            "IN",
            "NOT",
            "WITHIN",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut p = String::new();
            for _ in 0..1 + state % 9 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                p.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            parse(&p);
            parse(&format!("[{p}]"));
            parse(&format!("[domain-name:value = {p}]"));
        }
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            atoms("[domain-name:value = 'a' or domain-name:value = 'b']").len(),
            2
        );
        assert_eq!(atoms("[Domain-Name:Value = 'a']").len(), 1);
    }
}

#[cfg(test)]
mod fast_path {
    use super::*;

    #[test]
    fn simple_shapes_take_the_fast_path() {
        for p in [
            "[domain-name:value='shortenurls.me']",
            " [ url:value = 'http://x.org/]' ] ",
            "[file:hashes.sha256 = 'ab']",
            "[process:name = 'a=b']",
        ] {
            assert!(simple(p).is_some(), "{p}");
        }
        for p in [
            "[file:hashes.'SHA-256' = 'ab']",
            "[a:b != 'v']",
            "[domain-name:value = 'a\\'b']",
            "[domain-name:value = 'v'] OR [domain-name:value = 'w']",
            "[domain-name:value = 'v' OR domain-name:value = 'w']",
            "[domain-name :value = 'v']",
            "[domain-name:value = 'v'] WITHIN 5 SECONDS",
            "[[domain-name:value = 'v']]",
            "[x-unknown:value = 'v']",
        ] {
            assert!(simple(p).is_none(), "{p}");
        }
    }
}
