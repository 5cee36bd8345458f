//! The CAS protocol's two XML documents a CAS client reads (Apereo CAS protocol 2.0 and
//! 3.0, the single sign-on of French ENTs): the answer of `serviceValidate` /
//! `p3/serviceValidate`, and the SAML `LogoutRequest` a CAS server posts for single
//! log-out. Pure parsing; the HTTP side is crates/web/src/sso.rs.

use std::collections::BTreeMap;

use minidom::Element;

/// The CAS namespace.
pub const NS: &str = "http://www.yale.edu/tp/cas";
/// Deepest nesting read: a CAS answer is 4 levels deep, a log-out request 2. minidom
/// builds (and frees) a tree recursively, so a hostile document nested 50,000 deep would
/// overflow a task's stack: such a document is refused before it is built.
pub const MAX_DEPTH: usize = 16;
/// Longest document read (a CAS answer with its attributes is a few KiB).
pub const MAX_BYTES: usize = 256 * 1024;
const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// What `serviceValidate` said of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// A valid ticket: the CAS user and the attributes released to this service (the
    /// first value of each; CAS 3.0 `<cas:attributes>`, or the `<cas:attribute
    /// name= value=/>` form some servers send beside or instead).
    Success {
        user: String,
        attributes: BTreeMap<String, String>,
    },
    /// Refused, with the CAS error code (`INVALID_TICKET`, `INVALID_SERVICE`, …).
    Failure { code: String, message: String },
}

/// A document that is not a CAS answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CAS service response: {0}")]
pub struct NotCas(pub &'static str);

/// Parses `doc` into a tree when it is well-formed, at most [`MAX_BYTES`] long and
/// [`MAX_DEPTH`] deep (checked with rxml's event parser first, which keeps no tree).
fn parse_bounded(doc: &str) -> Result<Element, NotCas> {
    if doc.len() > MAX_BYTES {
        return Err(NotCas("too long"));
    }
    let mut parser = rxml::Parser::default();
    let mut buf = doc.as_bytes();
    let mut depth = 0usize;
    loop {
        match rxml::Parse::parse(&mut parser, &mut buf, true) {
            Ok(Some(rxml::Event::StartElement(..))) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(NotCas("nested too deep"));
                }
            }
            Ok(Some(rxml::Event::EndElement(..))) => depth = depth.saturating_sub(1),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return Err(NotCas("not XML")),
        }
    }
    doc.parse().map_err(|_| NotCas("not XML"))
}

/// Parses the body of a `serviceValidate` answer.
pub fn parse_validation(body: &str) -> Result<Validation, NotCas> {
    let root: Element = parse_bounded(body.trim())?;
    if !root.is("serviceResponse", NS) {
        return Err(NotCas("no cas:serviceResponse"));
    }
    if let Some(fail) = root.get_child("authenticationFailure", NS) {
        return Ok(Validation::Failure {
            code: fail.attr("code").unwrap_or("UNKNOWN").to_string(),
            message: fail.text().trim().to_string(),
        });
    }
    let ok = root
        .get_child("authenticationSuccess", NS)
        .ok_or(NotCas("neither success nor failure"))?;
    let user = ok
        .get_child("user", NS)
        .map(|u| u.text().trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or(NotCas("no cas:user"))?;
    let mut attributes = BTreeMap::new();
    if let Some(attrs) = ok.get_child("attributes", NS) {
        for a in attrs.children() {
            attributes
                .entry(a.name().to_string())
                .or_insert_with(|| a.text().trim().to_string());
        }
    }
    for a in ok.children().filter(|c| c.is("attribute", NS)) {
        if let (Some(name), Some(value)) = (a.attr("name"), a.attr("value")) {
            attributes
                .entry(name.to_string())
                .or_insert_with(|| value.trim().to_string());
        }
    }
    Ok(Validation::Success { user, attributes })
}

/// The service ticket a single log-out request names (its `SessionIndex`).
pub fn logout_ticket(request: &str) -> Option<String> {
    let text = request.trim();
    if text.len() > MAX_BYTES {
        return None;
    }
    let parsed = parse_bounded(text)
        .ok()
        .filter(|root| root.is("LogoutRequest", SAMLP))
        .and_then(|root| {
            root.get_child("SessionIndex", SAMLP)
                .map(|s| s.text().trim().to_string())
        });
    // Some CAS servers send a NameID whose prefix is not declared, which no namespace-aware
    // parser accepts: the SessionIndex is then read from the text itself.
    let ticket = parsed.or_else(|| {
        let start = text.find("SessionIndex>")? + "SessionIndex>".len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].trim().to_string())
    })?;
    (!ticket.is_empty() && ticket.len() <= 256).then_some(ticket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cas_3_success_gives_the_user_and_both_forms_of_attributes() {
        let body = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>LEA-0001</cas:user>
    <cas:attributes>
      <cas:isFromNewLogin>true</cas:isFromNewLogin>
      <cas:ENTPersonLogin>lea.martin</cas:ENTPersonLogin>
      <cas:groups>a</cas:groups>
      <cas:groups>b</cas:groups>
    </cas:attributes>
    <cas:attribute name="uid" value="lmartin"/>
  </cas:authenticationSuccess>
</cas:serviceResponse>"#;
        let Validation::Success { user, attributes } = parse_validation(body).unwrap() else {
            panic!("not a success");
        };
        assert_eq!(user, "LEA-0001");
        assert_eq!(attributes["ENTPersonLogin"], "lea.martin");
        assert_eq!(attributes["uid"], "lmartin");
        assert_eq!(attributes["groups"], "a");
    }

    #[test]
    fn a_cas_2_success_has_no_attributes_and_a_failure_its_code() {
        let ok = "<?xml version='1.0'?><cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>paul</cas:user></cas:authenticationSuccess></cas:serviceResponse>";
        assert_eq!(
            parse_validation(ok).unwrap(),
            Validation::Success {
                user: "paul".into(),
                attributes: BTreeMap::new()
            }
        );
        let fail = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
 <cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized</cas:authenticationFailure>
</cas:serviceResponse>"#;
        assert_eq!(
            parse_validation(fail).unwrap(),
            Validation::Failure {
                code: "INVALID_TICKET".into(),
                message: "Ticket ST-1 not recognized".into()
            }
        );
    }

    #[test]
    fn what_is_not_a_cas_answer_is_an_error() {
        for bad in [
            "",
            "yes\nlea\n",
            "<html><body>Login</body></html>",
            "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'/>",
            "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user> </cas:user></cas:authenticationSuccess></cas:serviceResponse>",
            "<serviceResponse><authenticationSuccess><user>x</user></authenticationSuccess></serviceResponse>",
        ] {
            assert!(parse_validation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_logout_request_names_its_ticket() {
        let req = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
 ID="abc" Version="2.0" IssueInstant="2026-12-06T00:00:00Z">
<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"></saml:NameID>
<samlp:SessionIndex>ST-123-abc</samlp:SessionIndex>
</samlp:LogoutRequest>"#;
        assert_eq!(logout_ticket(req).as_deref(), Some("ST-123-abc"));
        // An undeclared saml: prefix (older CAS servers).
        let sloppy = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0"><saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>ST-9</samlp:SessionIndex></samlp:LogoutRequest>"#;
        assert_eq!(logout_ticket(sloppy).as_deref(), Some("ST-9"));
        for bad in [
            "",
            "<root></root>",
            "<a>SessionIndex></a>",
            "SessionIndex>   <",
        ] {
            assert_eq!(logout_ticket(bad), None, "{bad}");
        }
    }

    #[test]
    fn deep_or_huge_documents_are_refused_without_building_a_tree() {
        // 50,000 levels: built by minidom, freeing it would overflow a 2 MiB stack.
        let deep = format!(
            "{}{}",
            "<a xmlns='x'>".repeat(50_000),
            "</a>".repeat(50_000)
        );
        assert_eq!(logout_ticket(&deep), None);
        assert!(parse_validation(&deep).is_err());
        let answer_in_deep = format!(
            "<cas:serviceResponse xmlns:cas='{NS}'><cas:authenticationSuccess><cas:user>u</cas:user><cas:attributes>{}{}</cas:attributes></cas:authenticationSuccess></cas:serviceResponse>",
            "<cas:x>".repeat(MAX_DEPTH),
            "</cas:x>".repeat(MAX_DEPTH)
        );
        assert_eq!(
            parse_validation(&answer_in_deep),
            Err(NotCas("nested too deep"))
        );
        let huge = format!(
            "<samlp:LogoutRequest xmlns:samlp='{SAMLP}'><samlp:SessionIndex>ST-1</samlp:SessionIndex>{}</samlp:LogoutRequest>",
            " ".repeat(MAX_BYTES)
        );
        assert_eq!(logout_ticket(&huge), None);
    }
}
