//! ONVIF Media2 (`ver20/media`), the media service of cameras whose
//! profiles are H.265 (Media ver10 cannot describe them), and GetServices,
//! the device call that says where it is. Request bodies and the parsing of
//! answers only; `media` asks them. Pure.
//!
//! Media2 differs from Media where it matters here: GetProfiles names no
//! configuration unless asked for `Type` `All`; the profile's encoder is
//! `Configurations/VideoEncoder`; GetStreamUri takes a bare `Protocol`
//! (`RTSP`) and answers a bare `Uri` (no `MediaUri`).

use crate::adapters::onvif::wsdl::{MEDIA_WSDL, MEDIA2_WSDL};
use crate::adapters::onvif::xml;
use crate::adapters::onvif::xml::escape;

pub const GET_SERVICES: &str =
    "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>";
/// Every configuration of every profile (the encoder's among them).
pub const GET_PROFILES: &str = "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>";

pub fn get_stream_uri(token: &str) -> String {
    format!(
        "<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol>\
         <tr2:ProfileToken>{}</tr2:ProfileToken></tr2:GetStreamUri>",
        escape(token)
    )
}

pub fn get_snapshot_uri(token: &str) -> String {
    format!(
        "<tr2:GetSnapshotUri><tr2:ProfileToken>{}</tr2:ProfileToken></tr2:GetSnapshotUri>",
        escape(token)
    )
}

/// The media services a GetServices answer lists, by their URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    /// Media (ver10).
    pub media: Option<String>,
    /// Media2 (ver20).
    pub media2: Option<String>,
}

/// The media services in a GetServices answer.
pub fn parse_services(text: &str) -> Result<Services, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    let answer = xml::find(body, "GetServicesResponse").ok_or("no GetServicesResponse")?;
    let mut out = Services::default();
    for service in xml::children(answer, "Service") {
        let (Some(ns), Some(xaddr)) = (
            xml::text_of(service, "Namespace"),
            xml::text_of(service, "XAddr"),
        ) else {
            continue;
        };
        match ns.as_str() {
            MEDIA_WSDL => out.media = out.media.or(Some(xaddr)),
            MEDIA2_WSDL => out.media2 = out.media2.or(Some(xaddr)),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::wsdl::DEVICE_WSDL;
    use super::*;

    fn wrap(body: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
 xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>{body}</s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn requests_are_in_the_media2_namespace() {
        for body in [
            GET_PROFILES.to_owned(),
            get_stream_uri("a<b"),
            get_snapshot_uri("a<b"),
        ] {
            let env = super::super::soap::envelope(&body, "");
            let doc = roxmltree::Document::parse(&env).expect("well-formed");
            let op = doc
                .descendants()
                .find(|n| n.tag_name().name().starts_with("Get"))
                .expect("an operation");
            assert_eq!(op.tag_name().namespace(), Some(MEDIA2_WSDL), "{body}");
            if let Some(t) = xml::text_of(op, "ProfileToken") {
                assert_eq!(t, "a<b");
            }
        }
        let env = super::super::soap::envelope(&get_stream_uri("main"), "");
        let doc = roxmltree::Document::parse(&env).expect("well-formed");
        let protocol = xml::find(doc.root_element(), "Protocol").expect("Protocol");
        assert_eq!(protocol.text(), Some("RTSP"));
        assert_eq!(
            protocol.parent().map(|p| p.tag_name().name()),
            Some("GetStreamUri")
        );
        let env = super::super::soap::envelope(GET_SERVICES, "");
        let doc = roxmltree::Document::parse(&env).expect("well-formed");
        let op = xml::find(doc.root_element(), "GetServices").expect("GetServices");
        assert_eq!(op.tag_name().namespace(), Some(DEVICE_WSDL));
    }

    #[test]
    fn finds_the_media_services() {
        let service = |ns: &str, at: &str| {
            format!(
                "<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{at}</tds:XAddr>\
                 <tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            )
        };
        let only2 = wrap(&format!(
            "<tds:GetServicesResponse>{}{}</tds:GetServicesResponse>",
            service(DEVICE_WSDL, "http://10.0.0.5/onvif/device_service"),
            service(MEDIA2_WSDL, "http://10.0.0.5/onvif/media2_service"),
        ));
        assert_eq!(
            parse_services(&only2),
            Ok(Services {
                media: None,
                media2: Some("http://10.0.0.5/onvif/media2_service".into()),
            })
        );
        let both = wrap(&format!(
            "<tds:GetServicesResponse>{}{}</tds:GetServicesResponse>",
            service(MEDIA2_WSDL, "http://h/m2"),
            service(MEDIA_WSDL, "http://h/m1"),
        ));
        assert_eq!(
            parse_services(&both).expect("parses").media.as_deref(),
            Some("http://h/m1")
        );
        assert_eq!(
            parse_services(&wrap("<tds:GetServicesResponse/>")),
            Ok(Services::default())
        );
        assert!(parse_services(&wrap("<x/>")).is_err());
    }
}
