//! XML for ONVIF: escaping text put into requests, and reading replies by
//! local element names (devices use every prefix imaginable, and some get
//! namespaces wrong, so names are matched without them). Pure.

use roxmltree::{Document, Node};

/// `s` with `& < > " '` escaped, for element text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Parses `text`, naming the parser's complaint (with its position).
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    Document::parse(text).map_err(|e| format!("not XML: {e}"))
}

/// The first descendant of `node` (itself included) named `local`.
pub fn find<'a, 'input>(node: Node<'a, 'input>, local: &str) -> Option<Node<'a, 'input>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == local)
}

/// The direct children of `node` named `local`.
pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == local)
}

/// The trimmed text of the first descendant named `local`, if not empty.
pub fn text_of(node: Node<'_, '_>, local: &str) -> Option<String> {
    find(node, local)
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The SOAP `Body` of an envelope, or why there is none.
pub fn body<'a, 'input>(doc: &'a Document<'input>) -> Result<Node<'a, 'input>, String> {
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" {
        return Err(format!(
            "not a SOAP envelope (root element <{}>)",
            root.tag_name().name()
        ));
    }
    children(root, "Body")
        .next()
        .ok_or_else(|| "a SOAP envelope without a Body".to_owned())
}

/// When `text` is a SOAP envelope holding a Fault: its reason (SOAP 1.2
/// `Reason/Text`, SOAP 1.1 `faultstring`, else the code). `None` otherwise.
pub fn soap_fault(text: &str) -> Option<String> {
    let doc = Document::parse(text).ok()?;
    let fault = find(body(&doc).ok()?, "Fault")?;
    let reason = text_of(fault, "Text")
        .or_else(|| text_of(fault, "faultstring"))
        .or_else(|| text_of(fault, "Value"))
        .unwrap_or_else(|| "no reason given".to_owned());
    // Cameras put the precise code (ter:NotAuthorized) in a Subcode.
    let subcode = find(fault, "Subcode").and_then(|s| text_of(s, "Value"));
    Some(match subcode {
        Some(code) if !reason.contains(&code) => format!("{reason} ({code})"),
        _ => reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn reads_faults_of_soap_1_2_and_1_1() {
        let v12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>
            <e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>ter:NotAuthorized</e:Value></e:Subcode></e:Code>
            <e:Reason><e:Text xml:lang="en">Sender not Authorized</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#;
        assert_eq!(
            soap_fault(v12).as_deref(),
            Some("Sender not Authorized (ter:NotAuthorized)")
        );
        let v11 = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault>
            <faultcode>S:Client</faultcode><faultstring>bad token</faultstring></S:Fault></S:Body></S:Envelope>"#;
        assert_eq!(soap_fault(v11).as_deref(), Some("bad token"));
        assert_eq!(soap_fault("<Envelope><Body><Ok/></Body></Envelope>"), None);
        assert_eq!(soap_fault("not xml"), None);
    }

    #[test]
    fn body_needs_an_envelope() {
        let doc = parse("<html><body/></html>").expect("well-formed");
        assert!(body(&doc).unwrap_err().contains("<html>"));
        assert!(parse("<a><b></a>").unwrap_err().starts_with("not XML"));
    }
}
