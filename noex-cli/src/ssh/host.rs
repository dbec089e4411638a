//! The `--host` value: `ssh://[user@]host[:port]`, as Docker's `DOCKER_HOST` takes it.
//!
//! Parsed by hand: the grammar is three optional parts, and a URL crate would accept
//! much that ssh cannot use (paths, queries, passwords).

use std::fmt;

/// Where `--host` points: the ssh destination, split into what `ssh` takes as flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshHost {
    /// `-l USER`; without it ssh picks the user (its config, else the local name).
    pub user: Option<String>,
    /// A name or an address; an IPv6 address without its brackets.
    pub host: String,
    /// `-p PORT`; without it ssh picks the port (its config, else 22).
    pub port: Option<u16>,
}

/// The URL scheme `--host` takes.
const SCHEME: &str = "ssh://";

const FORM: &str = "ssh://[user@]host[:port]";

impl SshHost {
    /// Parse `ssh://[user@]host[:port]`; an IPv6 address goes in brackets
    /// (`ssh://[::1]:2222`). Every error says what is wrong, in one line (clap puts
    /// the flag and the value before it).
    pub fn parse(text: &str) -> Result<SshHost, String> {
        let Some(rest) = strip_scheme(text) else {
            return Err(match text.split_once("://") {
                Some((scheme, _)) => {
                    format!("the scheme {scheme:?} is not supported; use {FORM}")
                }
                None => format!("not an ssh URL; use {FORM}"),
            });
        };
        let bad = |why: &str| format!("{why}; use {FORM}");
        // A trailing slash is what a URL may carry; anything after it is not ours.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(bad("a path, query or fragment has no meaning here"));
        }
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, authority),
        };
        if let Some(user) = user {
            if user.is_empty() {
                return Err(bad("the user name is empty"));
            }
            if user.contains(':') {
                return Err(bad(
                    "a password cannot go in the URL (ssh authenticates, with keys or an agent)",
                ));
            }
        }
        let (host, port) = split_port(host_port).map_err(|why| bad(&why))?;
        if host.is_empty() {
            return Err(bad("the host name is empty"));
        }
        // ssh would read a leading dash as an option.
        if host.starts_with('-') || user.is_some_and(|u| u.starts_with('-')) {
            return Err(bad("a host or user name cannot start with '-'"));
        }
        Ok(SshHost {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        })
    }
}

fn strip_scheme(text: &str) -> Option<&str> {
    let head = text.get(..SCHEME.len())?;
    head.eq_ignore_ascii_case(SCHEME)
        .then(|| &text[SCHEME.len()..])
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(host_port: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 address opened with '[' needs its ']'".into());
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected {after:?} after the address")),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("put an IPv6 address in brackets, as in ssh://[::1]:22".into());
            }
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("the port {port:?} is not a number 1-65535")),
            Ok(port) => Some(port),
        },
    };
    Ok((host, port))
}

impl fmt::Display for SshHost {
    /// The URL again, in its canonical form, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(user: Option<&str>, host: &str, port: Option<u16>) -> SshHost {
        SshHost {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn user_host_and_port_are_each_optional() {
        let cases = [
            ("ssh://box", host(None, "box", None)),
            ("ssh://ana@box", host(Some("ana"), "box", None)),
            ("ssh://ana@box:2222", host(Some("ana"), "box", Some(2222))),
            ("ssh://box:22/", host(None, "box", Some(22))),
            ("SSH://ana@10.0.0.7", host(Some("ana"), "10.0.0.7", None)),
        ];
        for (text, expected) in cases {
            assert_eq!(SshHost::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn an_ipv6_address_goes_in_brackets() {
        assert_eq!(
            SshHost::parse("ssh://root@[::1]:2222"),
            Ok(host(Some("root"), "::1", Some(2222)))
        );
        assert_eq!(
            SshHost::parse("ssh://[fe80::1%eth0]"),
            Ok(host(None, "fe80::1%eth0", None))
        );
        let error = SshHost::parse("ssh://::1").unwrap_err();
        assert!(error.contains("put an IPv6 address in brackets"), "{error}");
        let error = SshHost::parse("ssh://[::1").unwrap_err();
        assert!(error.contains("needs its ']'"), "{error}");
    }

    #[test]
    fn display_gives_the_url_back() {
        for text in [
            "ssh://box",
            "ssh://ana@box:2222",
            "ssh://root@[::1]:2222",
            "ssh://[::1]",
        ] {
            assert_eq!(SshHost::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn other_schemes_and_bare_names_are_refused_with_the_form() {
        assert_eq!(
            SshHost::parse("tcp://box:2375").unwrap_err(),
            "the scheme \"tcp\" is not supported; use ssh://[user@]host[:port]"
        );
        assert_eq!(
            SshHost::parse("ana@box").unwrap_err(),
            "not an ssh URL; use ssh://[user@]host[:port]"
        );
    }

    #[test]
    fn malformed_parts_are_refused_saying_which() {
        let cases = [
            ("ssh://", "the host name is empty"),
            ("ssh://ana@", "the host name is empty"),
            ("ssh://@box", "the user name is empty"),
            ("ssh://ana:secret@box", "a password cannot go in the URL"),
            ("ssh://box:0", "the port \"0\" is not a number 1-65535"),
            (
                "ssh://box:65536",
                "the port \"65536\" is not a number 1-65535",
            ),
            ("ssh://box:ssh", "the port \"ssh\" is not a number"),
            ("ssh://box/srv", "a path, query or fragment"),
            ("ssh://-oProxyCommand=x", "cannot start with '-'"),
            ("ssh://-l@box", "cannot start with '-'"),
            ("ssh://[::1]x", "unexpected \"x\" after the address"),
        ];
        for (text, why) in cases {
            let error = SshHost::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.ends_with("use ssh://[user@]host[:port]"), "{error}");
        }
    }
}
