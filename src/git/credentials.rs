//! Credentials for libgit2's network callbacks, and scrubbing of credential material out of
//! anything that may end up in an error message or a log line.

use std::cell::Cell;

use git2::{CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode, RemoteCallbacks};

use crate::api::repository_secret::RepoCredentials;

/// `url` without any `user:password@` (or `user@`) part of its authority, for error messages and
/// cache keys. Works on `scheme://` URLs; scp-like `user@host:path` keeps its user (a bare SSH
/// user name is not a secret) and other strings come back unchanged.
pub fn redact_url(url: &str) -> String {
    if url.contains("://") {
        crate::api::ServerUrl(url).to_string()
    } else {
        url.to_string()
    }
}

/// `text` (typically a libgit2 error message) with the userinfo of every `scheme://` URL in it
/// removed, and every occurrence of the given secrets replaced by `<redacted>`.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text
        .split_inclusive(char::is_whitespace)
        .map(redact_url)
        .collect();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "<redacted>");
    }
    out
}

/// What happened in the credential callback during one network operation.
#[derive(Debug, Default)]
pub struct AuthState {
    /// Credential types already handed to libgit2 once.
    tried: Cell<u32>,
    /// The callback refused to answer: no (more) credentials for what the server asked.
    gave_up: Cell<bool>,
}

impl AuthState {
    /// Whether the callback ran out of credentials (rejected or never configured).
    pub fn gave_up(&self) -> bool {
        self.gave_up.get()
    }

    /// Records one attempt of `kind`; `false` if that kind was already tried (a rejection).
    fn first_attempt(&self, kind: CredentialType) -> bool {
        let tried = self.tried.get();
        self.tried.set(tried | kind.bits());
        tried & kind.bits() == 0
    }

    fn give_up(&self, why: &str) -> git2::Error {
        self.gave_up.set(true);
        git2::Error::new(ErrorCode::Auth, ErrorClass::Callback, why)
    }
}

/// libgit2 callbacks answering credential requests from `creds` (each credential type at most
/// once, so a rejected credential ends in an authentication error rather than a retry loop) and,
/// when `creds.insecure` is set, accepting any server certificate.
pub fn remote_callbacks<'a>(
    creds: Option<&'a RepoCredentials>,
    state: &'a AuthState,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, username_from_url, allowed| {
        let Some(creds) = creds else {
            return Err(state.give_up("authentication required but no credentials are configured"));
        };
        let user = creds.username.as_deref().or(username_from_url);
        if allowed.contains(CredentialType::SSH_KEY)
            && let Some(key) = &creds.ssh_private_key
        {
            if !state.first_attempt(CredentialType::SSH_KEY) {
                return Err(state.give_up("SSH key rejected"));
            }
            return Cred::ssh_key_from_memory(user.unwrap_or("git"), None, key.expose(), None);
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(password) = &creds.password
        {
            if !state.first_attempt(CredentialType::USER_PASS_PLAINTEXT) {
                return Err(state.give_up("username or password rejected"));
            }
            return Cred::userpass_plaintext(user.unwrap_or(""), password.expose());
        }
        if allowed.contains(CredentialType::USERNAME) && creds.ssh_private_key.is_some() {
            if !state.first_attempt(CredentialType::USERNAME) {
                return Err(state.give_up("SSH username rejected"));
            }
            return Cred::username(user.unwrap_or("git"));
        }
        Err(state.give_up("no configured credential fits what the server asks for"))
    });
    if creds.is_some_and(|c| c.insecure) {
        callbacks.certificate_check(|_cert, _host| Ok(CertificateCheckStatus::CertificateOk));
    }
    callbacks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_strips_userinfo() {
        assert_eq!(
            redact_url("https://user:hunter2@git.example.com/org/app.git"),
            "https://git.example.com/org/app.git"
        );
        assert_eq!(
            redact_url("https://token@git.example.com/a"),
            "https://git.example.com/a"
        );
        assert_eq!(
            redact_url("http://u:p%40ss@h:8080/a@b"),
            "http://h:8080/a@b"
        );
        assert_eq!(redact_url("ssh://git@h/r.git"), "ssh://h/r.git");
        assert_eq!(redact_url("git://h/r.git"), "git://h/r.git");
        assert_eq!(
            redact_url("git@github.com:org/r.git"),
            "git@github.com:org/r.git"
        );
        assert_eq!(redact_url("/srv/git/r.git"), "/srv/git/r.git");
        assert_eq!(redact_url("https://h?x=a@b"), "https://h?x=a@b");
    }

    #[test]
    fn redact_text_scrubs_urls_and_secrets() {
        let msg = "failed to fetch 'https://bob:pw1234@h/r.git': token pw1234 refused";
        let out = redact_text(msg, &["pw1234"]);
        assert_eq!(
            out,
            "failed to fetch 'https://h/r.git': token <redacted> refused"
        );
        assert_eq!(redact_text("plain", &["", "ab"]), "plain");
    }

    #[test]
    fn each_credential_type_is_offered_once() {
        let state = AuthState::default();
        assert!(state.first_attempt(CredentialType::USER_PASS_PLAINTEXT));
        assert!(state.first_attempt(CredentialType::SSH_KEY));
        assert!(!state.first_attempt(CredentialType::USER_PASS_PLAINTEXT));
        assert!(!state.gave_up());
        let err = state.give_up("x");
        assert_eq!(err.code(), ErrorCode::Auth);
        assert!(state.gave_up());
    }
}
