//! The ONVIF services' XML namespaces (each service's WSDL URI), which name
//! the operations and the services a device lists.

/// Device management (ver10): capabilities, services, the device's clock.
pub const DEVICE_WSDL: &str = "http://www.onvif.org/ver10/device/wsdl";
/// Media (ver10): profiles, stream and snapshot URIs.
pub const MEDIA_WSDL: &str = "http://www.onvif.org/ver10/media/wsdl";
/// Media2 (ver20): the same for devices with H.265 profiles.
pub const MEDIA2_WSDL: &str = "http://www.onvif.org/ver20/media/wsdl";
