//! Where a walk is: the RFC 6901 JSON pointer of the current node, and the field names from the
//! root with list items left out (`["spec", "template", "spec", "containers", "env"]`), which is
//! what the schema rules of [`super::schema`] look at.

/// The position of a walk over an object.
#[derive(Debug, Default, Clone)]
pub(super) struct Path {
    pointer: String,
    /// Per pushed step: the pointer length before it, and whether it was a field.
    marks: Vec<(usize, bool)>,
    names: Vec<String>,
}

impl Path {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push_field(&mut self, name: &str) {
        self.marks.push((self.pointer.len(), true));
        self.pointer.push('/');
        self.pointer.push_str(&escape(name));
        self.names.push(name.to_string());
    }

    pub fn push_index(&mut self, index: usize) {
        self.marks.push((self.pointer.len(), false));
        self.pointer.push('/');
        self.pointer.push_str(&index.to_string());
    }

    pub fn pop(&mut self) {
        if let Some((len, field)) = self.marks.pop() {
            self.pointer.truncate(len);
            if field {
                self.names.pop();
            }
        }
    }

    /// The JSON pointer (`""` at the root).
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The field names from the root, list items left out.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn is_root(&self) -> bool {
        self.marks.is_empty()
    }
}

/// A reference token of a JSON pointer: `~` → `~0`, `/` → `~1`.
pub(super) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The reference tokens of a JSON pointer (`/a/b~1c` → `["a", "b/c"]`).
pub(super) fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Err("the empty pointer names the whole object".to_string());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("a pointer starts with \"/\"".to_string());
    };
    rest.split('/').map(unescape).collect()
}

fn unescape(token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err(format!("{token:?} has a \"~\" not followed by 0 or 1")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_and_names() {
        let mut p = Path::new();
        assert!(p.is_root());
        p.push_field("metadata");
        p.push_field("annotations");
        p.push_field("example.com/a~b");
        assert_eq!(p.pointer(), "/metadata/annotations/example.com~1a~0b");
        p.pop();
        p.pop();
        p.pop();
        p.push_field("spec");
        p.push_field("containers");
        p.push_index(2);
        p.push_field("env");
        assert_eq!(p.pointer(), "/spec/containers/2/env");
        assert_eq!(p.names(), ["spec", "containers", "env"]);
        p.pop();
        assert_eq!(p.names(), ["spec", "containers"]);
        p.pop();
        assert_eq!(p.pointer(), "/spec/containers");
    }

    #[test]
    fn parse_pointers() {
        assert_eq!(
            parse_pointer("/metadata/annotations/a~1b~0c").unwrap(),
            ["metadata", "annotations", "a/b~c"]
        );
        assert_eq!(parse_pointer("/").unwrap(), [""]);
        assert!(parse_pointer("").is_err());
        assert!(parse_pointer("spec").is_err());
        assert!(parse_pointer("/a~2").is_err());
        assert!(parse_pointer("/a~").is_err());
    }
}
