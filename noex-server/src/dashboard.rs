//! The web dashboard's files, built into the binary (no CDN, nothing to install).

/// The file served at `path` (`/`, `/app.js`): its content type and bytes.
pub(crate) fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    match path {
        "/" | "/index.html" => Some((
            "text/html; charset=utf-8",
            include_bytes!("../assets/index.html"),
        )),
        "/app.js" => Some((
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/app.js"),
        )),
        "/style.css" => Some((
            "text/css; charset=utf-8",
            include_bytes!("../assets/style.css"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads its script and styles by these paths: each must be served.
    #[test]
    fn every_file_the_page_names_is_served() {
        let (_, page) = asset("/").unwrap();
        let page = std::str::from_utf8(page).unwrap();
        for path in ["/app.js", "/style.css"] {
            assert!(
                page.contains(&format!("\"{path}\"")),
                "the page names {path}"
            );
            assert!(asset(path).is_some(), "{path} is served");
        }
        assert_eq!(asset("/index.html"), asset("/"));
    }

    #[test]
    fn unknown_paths_are_not_served() {
        for path in ["/nope", "/../Cargo.toml", "/assets/app.js", ""] {
            assert!(asset(path).is_none(), "{path}");
        }
    }
}
