//! How a cluster's API server URL is shown. A `server` may only come from a cluster Secret, which
//! refuses one with user info (`https://user:password@host`, see
//! [`super::ClusterSecret::from_secret`]); every log line, metric label, Event, error and CLI
//! column still shows a server through [`ServerUrl`], which drops any user info, so a URL read
//! from somewhere else (an Application's destination, a Secret that did not parse, a kubeconfig)
//! cannot print a password either.

use std::borrow::Cow;
use std::fmt;

/// A server URL for display: the URL without its user info (`https://user:pw@h:1/p` shows as
/// `https://h:1/p`). `Display` only.
#[derive(Clone, Copy)]
pub struct ServerUrl<'a>(pub &'a str);

impl ServerUrl<'_> {
    /// The URL as shown, borrowed when it carries no user info.
    pub fn shown(&self) -> Cow<'_, str> {
        match userinfo_range(self.0) {
            Some((start, end)) => Cow::Owned(format!("{}{}", &self.0[..start], &self.0[end..])),
            None => Cow::Borrowed(self.0),
        }
    }
}

impl fmt::Display for ServerUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl fmt::Debug for ServerUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

/// Whether the URL's authority carries user info (`user@` or `user:password@`).
pub fn has_userinfo(url: &str) -> bool {
    userinfo_range(url).is_some()
}

/// The byte range of `user[:password]@` in the URL's authority (the part after `scheme://`, or
/// the whole text without a scheme, up to the first `/`, `?` or `#`).
pub(crate) fn userinfo_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    url[start..end].rfind('@').map(|at| (start, start + at + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_dropped_and_nothing_else() {
        let shown = |u: &str| ServerUrl(u).to_string();
        assert_eq!(shown("https://u:p@h:1/a@b"), "https://h:1/a@b");
        assert_eq!(shown("https://admin@h"), "https://h");
        assert_eq!(shown("https://h/a@b"), "https://h/a@b");
        assert_eq!(shown("https://h?x=a@b"), "https://h?x=a@b");
        assert_eq!(shown("u:p@h"), "h");
        assert_eq!(shown("https://[fd00::1]:6443"), "https://[fd00::1]:6443");
        assert_eq!(
            format!("{:?}", ServerUrl("https://u:s3cret@h")),
            "\"https://h\""
        );
        assert!(has_userinfo("https://u:p@h") && has_userinfo("http://u@h:1"));
        assert!(!has_userinfo("https://h/a@b") && !has_userinfo("https://h"));
    }
}
