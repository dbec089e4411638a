//! The web dashboard's files, built into the binary (no CDN, nothing to install).

/// The file served at `path` (`/`, `/app.js`): its content type and bytes.
pub(crate) fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    match path {
        "/" | "/index.html" => Some((
            "text/html; charset=utf-8",
            include_bytes!("../assets/index.html"),
        )),
        _ => None,
    }
}
