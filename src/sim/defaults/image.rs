//! The tag of an image reference, as kube-apiserver's `parsers.ParseImageName` finds it to
//! default `imagePullPolicy`: `Always` for `:latest` or no tag and no digest, `IfNotPresent`
//! otherwise, including for references the docker reference grammar rejects.

/// `imagePullPolicy` for a container whose image is `image`.
pub fn pull_policy(image: &str) -> &'static str {
    match tag(image) {
        Some(t) if t == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag Kubernetes sees: the explicit tag, `latest` when there is neither tag nor digest,
/// or `None` when the reference has only a digest or does not parse.
fn tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if !valid_repo(repo) {
        return None;
    }
    match tag {
        Some(t) if valid_tag(t) => Some(t.to_string()),
        Some(_) => None,
        None if digest.is_some() => None,
        None => Some("latest".to_string()),
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    t.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:encoded`, the encoded part at least 32 hex-ish characters.
fn valid_digest(d: &str) -> bool {
    let Some((alg, enc)) = d.split_once(':') else {
        return false;
    };
    !alg.is_empty()
        && alg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-_".contains(c))
        && alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && enc.len() >= 32
        && enc
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=_-".contains(c))
}

/// A repository: an optional domain, then lowercase path components.
fn valid_repo(repo: &str) -> bool {
    if repo.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    // The first component is a domain when it looks like one (docker's splitDockerDomain).
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase())
        {
            if !valid_domain(first) {
                return false;
            }
            parts.remove(0);
        }
    }
    parts.iter().all(|p| valid_component(p))
}

fn valid_domain(d: &str) -> bool {
    let host = match d.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || d.starts_with('[') => {
            if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                return false;
            }
            h
        }
        _ => d,
    };
    if host.starts_with('[') {
        return host.ends_with(']') && host.len() > 2;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(p: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = p.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_or_untagged_pulls_always() {
        for image in [
            "nginx",
            "nginx:latest",
            "library/nginx",
            "docker.io/library/nginx:latest",
            "localhost:5000/app",
            "registry.example.com:5000/team/app",
        ] {
            assert_eq!(pull_policy(image), "Always", "{image}");
        }
    }

    #[test]
    fn tags_and_digests_pull_if_not_present() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for image in [
            "nginx:1.27".to_string(),
            "registry.example.com:5000/team/app:v1".to_string(),
            format!("nginx@{digest}"),
            format!("nginx:1.27@{digest}"),
        ] {
            assert_eq!(pull_policy(&image), "IfNotPresent", "{image}");
        }
        assert_eq!(pull_policy(&format!("nginx:latest@{digest}")), "Always");
    }

    #[test]
    fn unparsable_references_pull_if_not_present() {
        for image in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-bad",
            "nginx@sha256:short",
            "a//b",
            "-x",
        ] {
            assert_eq!(pull_policy(image), "IfNotPresent", "{image:?}");
        }
    }
}
