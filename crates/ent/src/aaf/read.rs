//! Reading one AAF file (`ficAlimMENESR`): its bytes decoded (UTF-8, ISO-8859-1 or
//! ISO-8859-15, as its XML declaration says), its prolog (declaration, `<!DOCTYPE>`,
//! comments) stepped over, then its body parsed with rxml into [`Request`]s: the
//! request's kind, its category, its identifier and the attributes the mapping uses.
//!
//! rxml is the workspace's XML parser (the streams' framing uses it); it refuses
//! document type declarations, which every AAF file has, so the prolog is read here,
//! and it reads UTF-8 only, so the two Latin encodings the exports use are decoded here
//! (both are one byte per character). Nothing here panics on bad input: a file that
//! cannot be read is one [`ReadError`] with the reason.

use rxml::{Event, Parse, Parser, WithOptions};

/// What kind of request an entry of the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `<addRequest>`: the full export (« Complet ») has only these.
    Add,
    /// `<modifyRequest>` (delta exports).
    Modify,
    /// `<deleteRequest>` (delta exports).
    Delete,
}

impl RequestKind {
    pub fn element(self) -> &'static str {
        match self {
            RequestKind::Add => "addRequest",
            RequestKind::Modify => "modifyRequest",
            RequestKind::Delete => "deleteRequest",
        }
    }
}

/// One entry of a file, with the attributes the mapping reads ([`KEPT`]); the others
/// are dropped while reading, so that a large feed is not held whole in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    /// `categoriePersonne` or `categorieStructure` (or another `categorie…`) of
    /// `<operationalAttributes>`: `EtabEducNat`, `Eleve`, `PersRelEleve`, `PersEducNat`
    /// (or another one, unused).
    pub category: Option<String>,
    /// `<identifier><id>`, trimmed; `None` when missing or empty.
    pub id: Option<String>,
    /// `(name, values)` in file order; empty values dropped, the others trimmed.
    pub attrs: Vec<(String, Vec<String>)>,
}

impl Request {
    /// The values of an attribute (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }
}

/// The attributes the mapping reads (docs/aaf-import.md); the rest are not kept.
pub const KEPT: &[&str] = &[
    "ENTStructureJointure",
    "ENTStructureUAI",
    "ENTEtablissementUAI",
    "ENTStructureNomCourant",
    "ENTPersonJointure",
    "ENTPersonLogin",
    "sn",
    "givenName",
    "ENTPersonStructRattach",
    "ENTPersonProfils",
    "ENTPersonFonctions",
    "ENTEleveClasses",
    "ENTEleveGroupes",
    "ENTElevePersRelEleve",
    "ENTEleveAutoriteParentale",
    "ENTAuxEnsClasses",
    "ENTAuxEnsClassesMatieres",
    "ENTAuxEnsClassesPrincipal",
    "ENTAuxEnsGroupes",
    "ENTAuxEnsGroupesMatieres",
    "ENTEnsFonctionDir",
    "ENTPersonCategorieEnseignant",
    "PersEducNatPresenceDevantEleves",
];

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a whole file into its requests, or says why it cannot be read.
pub fn read_file(bytes: &[u8]) -> Result<Vec<Request>, ReadError> {
    let text = decode(bytes)?;
    let body = skip_prolog(&text)?;
    parse_body(body)
}

/// The file as text, from the encoding its XML declaration names (UTF-8 without one).
fn decode(bytes: &[u8]) -> Result<String, ReadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let encoding = declared_encoding(bytes)?.map(|e| e.to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("utf-8" | "utf8") => String::from_utf8(bytes.to_vec()).map_err(|e| {
            ReadError(format!(
                "not valid UTF-8 at byte {} (declare encoding=\"ISO-8859-15\" if it is Latin-9)",
                e.utf8_error().valid_up_to()
            ))
        }),
        Some("iso-8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1") => {
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
        Some("iso-8859-15" | "iso_8859-15" | "latin9" | "latin-9" | "l9") => {
            Ok(bytes.iter().map(|&b| latin9(b)).collect())
        }
        Some(other) => Err(ReadError(format!(
            "unsupported encoding \"{other}\" (UTF-8, ISO-8859-1 and ISO-8859-15 are read)"
        ))),
    }
}

/// ISO-8859-15: ISO-8859-1 but for eight code points.
fn latin9(b: u8) -> char {
    match b {
        0xA4 => '€',
        0xA6 => 'Š',
        0xA8 => 'š',
        0xB4 => 'Ž',
        0xB8 => 'ž',
        0xBC => 'Œ',
        0xBD => 'œ',
        0xBE => 'Ÿ',
        _ => char::from(b),
    }
}

/// The `encoding` of the XML declaration, when the file starts with one.
fn declared_encoding(bytes: &[u8]) -> Result<Option<String>, ReadError> {
    if !bytes.starts_with(b"<?xml") {
        return Ok(None);
    }
    let end = bytes
        .windows(2)
        .take(512)
        .position(|w| w == b"?>")
        .ok_or_else(|| ReadError("unterminated XML declaration".into()))?;
    let decl = String::from_utf8_lossy(&bytes[..end]);
    let Some(at) = decl.find("encoding") else {
        return Ok(None);
    };
    let rest = decl[at + "encoding".len()..].trim_start();
    let rest = rest
        .strip_prefix('=')
        .map(str::trim_start)
        .ok_or_else(|| ReadError("malformed XML declaration".into()))?;
    let quote = rest
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .ok_or_else(|| ReadError("malformed XML declaration".into()))?;
    let value = &rest[1..];
    let close = value
        .find(quote)
        .ok_or_else(|| ReadError("malformed XML declaration".into()))?;
    Ok(Some(value[..close].to_string()))
}

/// The text from the root element on: the declaration, a document type declaration
/// (with its internal subset, if any), comments, processing instructions and blanks
/// before the root are stepped over.
fn skip_prolog(text: &str) -> Result<&str, ReadError> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Err(ReadError("no root element".into()));
        }
        if let Some(r) = rest.strip_prefix("<?") {
            let end = r
                .find("?>")
                .ok_or_else(|| ReadError("unterminated processing instruction".into()))?;
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            let end = r
                .find("-->")
                .ok_or_else(|| ReadError("unterminated comment".into()))?;
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("<!DOCTYPE") {
            rest = after_doctype(r)?;
        } else if rest.starts_with('<') {
            return Ok(rest);
        } else {
            return Err(ReadError("text before the root element".into()));
        }
    }
}

/// What follows `<!DOCTYPE …>`: its end is the first `>` outside quotes and outside
/// the internal subset `[…]`.
fn after_doctype(r: &str) -> Result<&str, ReadError> {
    let mut quote: Option<char> = None;
    let mut subset = false;
    for (i, c) in r.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => subset = true,
            (None, ']') => subset = false,
            (None, '>') if !subset => return Ok(&r[i + 1..]),
            _ => {}
        }
    }
    Err(ReadError("unterminated document type declaration".into()))
}

/// Where the parser is inside a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Operational,
    Identifier,
    Attributes,
    Other,
}

/// Parses the body (root element first) into requests.
fn parse_body(body: &str) -> Result<Vec<Request>, ReadError> {
    let mut parser = Parser::with_options(rxml::parser::Options {
        comments: rxml::parser::CommentMode::Discard,
        ..Default::default()
    });
    let mut buf = body.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut requests = Vec::new();
    let mut current: Option<Request> = None;
    let mut section = Section::Other;
    let mut attr: Option<(String, Vec<String>)> = None;
    let mut text = String::new();
    let mut in_text = false;
    loop {
        let event = match parser.parse(&mut buf, true) {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(rxml::error::EndOrError::NeedMoreData) => {
                return Err(ReadError("the file ends inside an element".into()));
            }
            Err(rxml::error::EndOrError::Error(e)) => {
                let at = body.len() - buf.len();
                let line = body[..at].matches('\n').count() + 1;
                return Err(ReadError(format!(
                    "not well-formed XML near line {line}: {e}"
                )));
            }
        };
        match event {
            Event::XmlDeclaration(..) => {}
            Event::StartElement(_, (_, name), attrs) => {
                let name = name.as_str().to_string();
                let depth = stack.len();
                if depth == 0 && name != "ficAlimMENESR" {
                    return Err(ReadError(format!(
                        "root element <{name}>, not <ficAlimMENESR>: not an AAF export"
                    )));
                }
                if depth == 1 {
                    let kind = match name.as_str() {
                        "addRequest" => Some(RequestKind::Add),
                        "modifyRequest" => Some(RequestKind::Modify),
                        "deleteRequest" => Some(RequestKind::Delete),
                        _ => None,
                    };
                    current = kind.map(|kind| Request {
                        kind,
                        category: None,
                        id: None,
                        attrs: Vec::new(),
                    });
                }
                if depth == 2 {
                    section = match name.as_str() {
                        "operationalAttributes" => Section::Operational,
                        "identifier" => Section::Identifier,
                        "attributes" => Section::Attributes,
                        _ => Section::Other,
                    };
                }
                if current.is_some() && depth == 3 && name == "attr" {
                    let attr_name = attrs
                        .into_iter()
                        .find(|((ns, n), _)| ns.is_none() && n.as_str() == "name")
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default();
                    attr = Some((attr_name, Vec::new()));
                }
                in_text = current.is_some()
                    && ((depth == 3 && section == Section::Identifier && name == "id")
                        || (depth == 4 && name == "value" && attr.is_some()));
                text.clear();
                stack.push(name);
            }
            Event::Text(_, t) => {
                if in_text {
                    text.push_str(&t);
                }
            }
            Event::EndElement(_) => {
                let name = stack.pop().unwrap_or_default();
                let depth = stack.len();
                in_text = false;
                let Some(req) = current.as_mut() else {
                    continue;
                };
                match (depth, name.as_str()) {
                    (3, "id") if section == Section::Identifier => {
                        let id = text.trim();
                        req.id = (!id.is_empty()).then(|| id.to_string());
                    }
                    (4, "value") => {
                        let v = text.trim();
                        if let Some((_, values)) = attr.as_mut()
                            && !v.is_empty()
                        {
                            values.push(v.to_string());
                        }
                    }
                    (3, "attr") => {
                        if let Some((n, values)) = attr.take() {
                            match section {
                                Section::Operational if n.starts_with("categorie") => {
                                    req.category = values.into_iter().next();
                                }
                                Section::Attributes if KEPT.contains(&n.as_str()) => {
                                    match req.attrs.iter_mut().find(|(m, _)| *m == n) {
                                        Some((_, old)) => old.extend(values),
                                        None => req.attrs.push((n, values)),
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    (2, _) => section = Section::Other,
                    (1, _) => {
                        if let Some(req) = current.take() {
                            requests.push(req);
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
        }
    }
    if !stack.is_empty() {
        return Err(ReadError("the file ends inside an element".into()));
    }
    Ok(requests)
}
