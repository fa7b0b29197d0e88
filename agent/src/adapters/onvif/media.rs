//! The ONVIF questions asked of one device, in order: GetCapabilities (where
//! the media service is; if it names none, GetServices, which also lists
//! Media2), GetProfiles, then GetStreamUri (RTSP over RTP-Unicast) and
//! GetSnapshotUri for the first profile, of Media (ver10) when the device
//! has it, else of Media2 (ver20, `media2`). The request bodies and the
//! parsing of answers are pure; [`query`] asks them under one deadline and
//! turns every failure into an [`Outcome`], never a panic.

use tokio::time::Instant;
use url::Url;

use crate::adapters::onvif::media2::{self, Services, parse_services};
use crate::adapters::onvif::report::{MediaFound, MediaService, Outcome, Profile, Step};
use crate::adapters::onvif::soap::{SoapClient, SoapError};
use crate::adapters::onvif::wsdl::{DEVICE_WSDL, MEDIA_WSDL, MEDIA2_WSDL};
use crate::adapters::onvif::xml::{self, escape};

pub const GET_CAPABILITIES: &str =
    "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>";
pub const GET_PROFILES: &str = "<trt:GetProfiles/>";
pub const GET_SYSTEM_DATE_AND_TIME: &str = "<tds:GetSystemDateAndTime/>";

/// A device clock this close to ours is taken as right.
const CLOCK_TOLERANCE: time::Duration = time::Duration::seconds(5);

pub fn get_stream_uri(token: &str) -> String {
    format!(
        "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>\
         <tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>\
         <trt:ProfileToken>{}</trt:ProfileToken></trt:GetStreamUri>",
        escape(token)
    )
}

pub fn get_snapshot_uri(token: &str) -> String {
    format!(
        "<trt:GetSnapshotUri><trt:ProfileToken>{}</trt:ProfileToken></trt:GetSnapshotUri>",
        escape(token)
    )
}

/// The device's UTC clock in a GetSystemDateAndTime answer.
pub fn parse_device_time(text: &str) -> Result<time::OffsetDateTime, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    let utc = xml::find(body, "UTCDateTime").ok_or("no UTCDateTime in the answer")?;
    let field = |name: &str| -> Result<i32, String> {
        xml::text_of(utc, name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("UTCDateTime without a numeric {name}"))
    };
    let month = u8::try_from(field("Month")?)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or("UTCDateTime with a bad Month")?;
    let small = |name: &str| -> Result<u8, String> {
        u8::try_from(field(name)?).map_err(|_| format!("UTCDateTime with a bad {name}"))
    };
    let date = time::Date::from_calendar_date(field("Year")?, month, small("Day")?)
        .map_err(|e| format!("UTCDateTime: {e}"))?;
    // A leap second (60) is read as 59.
    let clock = time::Time::from_hms(small("Hour")?, small("Minute")?, small("Second")?.min(59))
        .map_err(|e| format!("UTCDateTime: {e}"))?;
    Ok(time::PrimitiveDateTime::new(date, clock).assume_utc())
}

/// The media service URL in a GetCapabilities answer; `None` when the
/// answer names none (the device service then serves media too).
pub fn parse_media_xaddr(text: &str) -> Result<Option<String>, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    let Some(caps) = xml::find(body, "Capabilities") else {
        return Err("no Capabilities in the answer".to_owned());
    };
    Ok(xml::children(caps, "Media")
        .next()
        .and_then(|m| xml::text_of(m, "XAddr")))
}

/// The media profiles in a GetProfiles answer (Media or Media2), in the
/// device's order.
pub fn parse_profiles(text: &str) -> Result<Vec<Profile>, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    if xml::find(body, "GetProfilesResponse").is_none() {
        return Err("no GetProfilesResponse in the answer".to_owned());
    }
    let mut out = Vec::new();
    for p in body
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Profiles")
    {
        let Some(token) = p.attribute("token").filter(|t| !t.is_empty()) else {
            return Err("a profile without a token".to_owned());
        };
        // Media: VideoEncoderConfiguration; Media2: Configurations/VideoEncoder.
        let encoder =
            xml::find(p, "VideoEncoderConfiguration").or_else(|| xml::find(p, "VideoEncoder"));
        let resolution = encoder.and_then(|e| xml::find(e, "Resolution"));
        let side = |name: &str| {
            resolution
                .and_then(|r| xml::text_of(r, name))
                .and_then(|v| v.parse::<u32>().ok())
        };
        out.push(Profile {
            token: token.to_owned(),
            name: xml::children(p, "Name")
                .next()
                .and_then(|n| n.text())
                .map(|t| t.trim().to_owned()),
            encoding: encoder.and_then(|e| xml::text_of(e, "Encoding")),
            width: side("Width"),
            height: side("Height"),
        });
    }
    if out.is_empty() {
        return Err("the device has no media profile".to_owned());
    }
    Ok(out)
}

/// The URI of a GetStreamUri or GetSnapshotUri answer: `MediaUri/Uri`
/// (Media) or a bare `Uri` in the response (Media2).
pub fn parse_media_uri(text: &str) -> Result<Url, String> {
    let doc = xml::parse(text)?;
    let body = xml::body(&doc)?;
    let response = body
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name().ends_with("UriResponse"));
    let uri = xml::find(body, "MediaUri")
        .and_then(|m| xml::text_of(m, "Uri"))
        .or_else(|| response.and_then(|r| xml::text_of(r, "Uri")))
        .ok_or_else(|| "no MediaUri/Uri in the answer".to_owned())?;
    let url = Url::parse(&uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{uri:?} has no host"));
    }
    Ok(url)
}

/// One SOAP call whose answer is parsed by `parse`; a parse failure is a
/// bad reply.
async fn ask<T>(
    client: &SoapClient,
    url: &str,
    action: &str,
    body: &str,
    deadline: Instant,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, SoapError> {
    let text = client.call(url, action, body, deadline).await?;
    parse(&text).map_err(SoapError::BadReply)
}

/// Asks the device at `xaddr` (its device service URL) for its media URIs,
/// giving up at `deadline`. Also returns notes worth showing whatever the
/// outcome (a clock far from ours).
pub async fn query(client: &SoapClient, xaddr: &Url, deadline: Instant) -> (Outcome, Vec<String>) {
    let device = xaddr.as_str();
    let mut notes = Vec::new();
    // A UsernameToken is refused when its time is far from the device's:
    // ask the device's clock (no credentials needed) and write tokens in it.
    let adjusted;
    let client = if client.has_credentials() {
        match ask(
            client,
            device,
            &format!("{DEVICE_WSDL}/GetSystemDateAndTime"),
            GET_SYSTEM_DATE_AND_TIME,
            deadline,
            parse_device_time,
        )
        .await
        {
            Ok(device_time) => {
                let offset = device_time - time::OffsetDateTime::now_utc();
                if offset.abs() > CLOCK_TOLERANCE {
                    notes.push(format!(
                        "the device's clock is {}s {} ours; WS-Security times were written in its time",
                        offset.whole_seconds().abs(),
                        if offset.is_positive() { "ahead of" } else { "behind" }
                    ));
                    adjusted = client.with_clock_offset(offset);
                    &adjusted
                } else {
                    client
                }
            }
            Err(SoapError::TimedOut) => {
                return (
                    Outcome::Failed {
                        step: Step::GetSystemDateAndTime,
                        error: SoapError::TimedOut,
                    },
                    notes,
                );
            }
            // Not every device answers it; its clock may be right anyway.
            Err(_) => client,
        }
    } else {
        client
    };
    (media_uris(client, device, deadline).await, notes)
}

/// Where the media questions go, and in which service's words.
#[derive(Debug)]
struct Endpoint {
    service: MediaService,
    xaddr: String,
}

impl Endpoint {
    fn action(&self, operation: &str) -> String {
        let wsdl = match self.service {
            MediaService::Media => MEDIA_WSDL,
            MediaService::Media2 => MEDIA2_WSDL,
        };
        format!("{wsdl}/{operation}")
    }

    fn get_profiles(&self) -> &'static str {
        match self.service {
            MediaService::Media => GET_PROFILES,
            MediaService::Media2 => media2::GET_PROFILES,
        }
    }

    fn get_stream_uri(&self, token: &str) -> String {
        match self.service {
            MediaService::Media => get_stream_uri(token),
            MediaService::Media2 => media2::get_stream_uri(token),
        }
    }

    fn get_snapshot_uri(&self, token: &str) -> String {
        match self.service {
            MediaService::Media => get_snapshot_uri(token),
            MediaService::Media2 => media2::get_snapshot_uri(token),
        }
    }
}

/// The media service to ask: the Media that GetCapabilities names; else
/// what GetServices lists (Media preferred, then Media2); else the device
/// service itself, as Media (some devices serve media there).
async fn media_endpoint(
    client: &SoapClient,
    device: &str,
    deadline: Instant,
) -> Result<Endpoint, (Step, SoapError)> {
    let media = |xaddr: String| Endpoint {
        service: MediaService::Media,
        xaddr,
    };
    // A device that answers GetCapabilities with a fault (some only know
    // GetServices) is asked GetServices too.
    match ask(
        client,
        device,
        &format!("{DEVICE_WSDL}/GetCapabilities"),
        GET_CAPABILITIES,
        deadline,
        parse_media_xaddr,
    )
    .await
    {
        Ok(Some(m)) => return Ok(media(m)),
        Ok(None) | Err(SoapError::Fault(_)) => {}
        Err(e) => return Err((Step::GetCapabilities, e)),
    }
    match ask(
        client,
        device,
        &format!("{DEVICE_WSDL}/GetServices"),
        media2::GET_SERVICES,
        deadline,
        parse_services,
    )
    .await
    {
        Ok(Services { media: Some(m), .. }) => Ok(media(m)),
        Ok(Services {
            media2: Some(m2), ..
        }) => Ok(Endpoint {
            service: MediaService::Media2,
            xaddr: m2,
        }),
        Ok(_) | Err(SoapError::Fault(_) | SoapError::BadReply(_)) => Ok(media(device.to_owned())),
        Err(e) => Err((Step::GetServices, e)),
    }
}

async fn media_uris(client: &SoapClient, device: &str, deadline: Instant) -> Outcome {
    let fail = |step, error| Outcome::Failed { step, error };
    let endpoint = match media_endpoint(client, device, deadline).await {
        Ok(e) => e,
        Err((step, error)) => return fail(step, error),
    };
    let media = endpoint.xaddr.as_str();
    let profiles = match ask(
        client,
        media,
        &endpoint.action("GetProfiles"),
        endpoint.get_profiles(),
        deadline,
        parse_profiles,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return fail(Step::GetProfiles, e),
    };
    let mut profiles = profiles.into_iter();
    let profile = profiles
        .next()
        .expect("parse_profiles returns at least one");
    let other_profiles: Vec<Profile> = profiles.collect();
    let stream = ask(
        client,
        media,
        &endpoint.action("GetStreamUri"),
        &endpoint.get_stream_uri(&profile.token),
        deadline,
        parse_media_uri,
    )
    .await
    .and_then(|u| {
        if u.scheme() == "rtsp" {
            Ok(u)
        } else {
            Err(SoapError::BadReply(format!("{u} is not an rtsp:// URI")))
        }
    });
    // Out of time on the stream: the snapshot cannot be asked either.
    if stream == Err(SoapError::TimedOut) {
        return fail(Step::GetStreamUri, SoapError::TimedOut);
    }
    let snapshot = ask(
        client,
        media,
        &endpoint.action("GetSnapshotUri"),
        &endpoint.get_snapshot_uri(&profile.token),
        deadline,
        parse_media_uri,
    )
    .await
    .and_then(|u| {
        if matches!(u.scheme(), "http" | "https") {
            Ok(u)
        } else {
            Err(SoapError::BadReply(format!("{u} is not an http(s):// URI")))
        }
    });
    match (stream, snapshot) {
        (Err(stream), Err(_)) => fail(Step::GetStreamUri, stream),
        (stream, snapshot) => Outcome::Media(Box::new(MediaFound {
            service: endpoint.service,
            profile,
            other_profiles,
            stream,
            snapshot,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
 xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Body>{body}</s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn requests_are_well_formed_and_escape_the_token() {
        for body in [
            GET_CAPABILITIES.to_owned(),
            GET_PROFILES.to_owned(),
            get_stream_uri("a<b&c"),
            get_snapshot_uri("a<b&c"),
        ] {
            let env = super::super::soap::envelope(&body, "");
            let doc = roxmltree::Document::parse(&env).expect("well-formed");
            if let Some(t) = xml::text_of(doc.root_element(), "ProfileToken") {
                assert_eq!(t, "a<b&c");
            }
        }
        let env = super::super::soap::envelope(&get_stream_uri("Profile_Main"), "");
        let doc = roxmltree::Document::parse(&env).expect("well-formed");
        let req = xml::find(doc.root_element(), "GetStreamUri").expect("request");
        assert_eq!(req.tag_name().namespace(), Some(MEDIA_WSDL));
        assert_eq!(xml::text_of(req, "Protocol").as_deref(), Some("RTSP"));
        assert_eq!(xml::text_of(req, "Stream").as_deref(), Some("RTP-Unicast"));
    }

    #[test]
    fn finds_the_media_service() {
        let caps = wrap(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>\
             <tt:Device><tt:XAddr>http://127.0.0.1:8080/onvif/device_service</tt:XAddr></tt:Device>\
             <tt:Media><tt:XAddr>http://127.0.0.1:8080/onvif/media_service</tt:XAddr></tt:Media>\
             </tds:Capabilities></tds:GetCapabilitiesResponse>",
        );
        assert_eq!(
            parse_media_xaddr(&caps),
            Ok(Some("http://127.0.0.1:8080/onvif/media_service".to_owned()))
        );
        let no_media =
            wrap("<tds:GetCapabilitiesResponse><tds:Capabilities/></tds:GetCapabilitiesResponse>");
        assert_eq!(parse_media_xaddr(&no_media), Ok(None));
        assert!(parse_media_xaddr(&wrap("<x/>")).is_err());
    }

    #[test]
    fn parses_profiles_in_order_with_their_video() {
        let text = wrap(
            r#"<trt:GetProfilesResponse>
            <trt:Profiles token="Profile_Main" fixed="true"><tt:Name>MainStream</tt:Name>
              <tt:VideoSourceConfiguration token="VSC_1"><tt:Name>VideoSource_1</tt:Name>
                <tt:Bounds x="0" y="0" width="640" height="360"/></tt:VideoSourceConfiguration>
              <tt:VideoEncoderConfiguration token="VEC_1"><tt:Name>H264_Main</tt:Name><tt:Encoding>H264</tt:Encoding>
                <tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>
            </trt:Profiles>
            <trt:Profiles token="Profile_Sub"><tt:Name>SubStream</tt:Name></trt:Profiles>
            </trt:GetProfilesResponse>"#,
        );
        let p = parse_profiles(&text).expect("parses");
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0],
            Profile {
                token: "Profile_Main".into(),
                name: Some("MainStream".into()),
                encoding: Some("H264".into()),
                width: Some(640),
                height: Some(360),
            }
        );
        assert_eq!(p[1].token, "Profile_Sub");
        assert_eq!(p[1].width, None);
    }

    #[test]
    fn parses_media2_profiles_and_uris() {
        let text = wrap(
            r#"<tr2:GetProfilesResponse xmlns:tr2="http://www.onvif.org/ver20/media/wsdl">
            <tr2:Profiles token="main" fixed="true"><tr2:Name>Main</tr2:Name><tr2:Configurations>
              <tr2:VideoSource token="vs"><tt:Name>vs</tt:Name><tt:UseCount>2</tt:UseCount></tr2:VideoSource>
              <tr2:VideoEncoder token="enc" GovLength="50" Profile="Main"><tt:Name>enc</tt:Name><tt:UseCount>1</tt:UseCount>
                <tt:Encoding>H265</tt:Encoding><tt:Resolution><tt:Width>2560</tt:Width><tt:Height>1440</tt:Height></tt:Resolution>
              </tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>
            <tr2:Profiles token="sub"><tr2:Name>Sub</tr2:Name></tr2:Profiles>
            </tr2:GetProfilesResponse>"#,
        );
        let p = parse_profiles(&text).expect("parses");
        assert_eq!(p[0].to_string(), "main (Main, H265, 2560x1440)");
        assert_eq!(p[1].to_string(), "sub (Sub)");
        let uri = wrap(
            r#"<tr2:GetStreamUriResponse xmlns:tr2="http://www.onvif.org/ver20/media/wsdl">
            <tr2:Uri>rtsp://10.0.0.5:554/h265/main</tr2:Uri></tr2:GetStreamUriResponse>"#,
        );
        assert_eq!(
            parse_media_uri(&uri).map(|u| u.to_string()),
            Ok("rtsp://10.0.0.5:554/h265/main".to_owned())
        );
    }

    #[test]
    fn refuses_bad_profile_answers_with_a_reason() {
        assert!(
            parse_profiles("<s:Envelope><oops")
                .unwrap_err()
                .contains("not XML")
        );
        assert!(
            parse_profiles(&wrap("<trt:GetProfilesResponse/>"))
                .unwrap_err()
                .contains("no media profile")
        );
        assert!(
            parse_profiles(&wrap(
                "<trt:GetProfilesResponse><trt:Profiles/></trt:GetProfilesResponse>"
            ))
            .unwrap_err()
            .contains("token")
        );
        assert!(parse_profiles(&wrap("<Other/>")).is_err());
    }

    #[test]
    fn parses_the_device_clock() {
        let text = wrap(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>\
             <tt:UTCDateTime><tt:Time><tt:Hour>10</tt:Hour><tt:Minute>40</tt:Minute><tt:Second>35</tt:Second></tt:Time>\
             <tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>30</tt:Day></tt:Date></tt:UTCDateTime>\
             </tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
        );
        assert_eq!(
            parse_device_time(&text),
            Ok(time::macros::datetime!(2026-11-30 10:40:35 UTC))
        );
        let bad_month = text.replace("<tt:Month>11<", "<tt:Month>13<");
        assert!(parse_device_time(&bad_month).unwrap_err().contains("Month"));
        let no_utc = wrap("<tds:GetSystemDateAndTimeResponse/>");
        assert!(parse_device_time(&no_utc).is_err());
    }

    #[test]
    fn parses_media_uris() {
        let text = wrap(
            "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://127.0.0.1:8554/video_main</tt:Uri>\
             <tt:Timeout>PT30S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>",
        );
        assert_eq!(
            parse_media_uri(&text).map(|u| u.to_string()),
            Ok("rtsp://127.0.0.1:8554/video_main".to_owned())
        );
        let amp = wrap(
            "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://10.0.0.5/cgi?a=1&amp;b=2</tt:Uri>\
             </trt:MediaUri></trt:GetSnapshotUriResponse>",
        );
        assert_eq!(
            parse_media_uri(&amp).map(|u| u.to_string()),
            Ok("http://10.0.0.5/cgi?a=1&b=2".to_owned())
        );
        for bad in [
            "<trt:GetStreamUriResponse/>",
            "<trt:MediaUri><tt:Uri>not a url</tt:Uri></trt:MediaUri>",
        ] {
            assert!(parse_media_uri(&wrap(bad)).is_err(), "{bad}");
        }
    }
}
