//! The Go types of the built-in kinds, compiled once from k8s-openapi's schemas (the same
//! schemas the simulator publishes as OpenAPI) into a graph of nodes: structs with their JSON
//! field names, maps, lists and scalars. Types are shared, so every `PodSpec` is one node.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Index of a node in [`Types`].
pub type NodeId = usize;

/// What a JSON value must be to decode into a Go type.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A struct: its JSON field names.
    Struct {
        /// The Go type name, e.g. `DeploymentSpec`.
        name: String,
        /// Its package's name, e.g. `v1`.
        package: String,
        fields: HashMap<String, NodeId>,
    },
    /// `map[string]T`.
    Map(NodeId),
    /// `[]T`.
    List(NodeId),
    Scalar(Scalar),
    /// Anything goes (`RawExtension`, `FieldsV1`, apiextensions' `JSON`, ...).
    Any,
}

/// The scalar Go types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    /// `[]byte`: a base64 string.
    Bytes,
    Bool,
    Int32,
    Int64,
    Float64,
    /// `intstr.IntOrString`: a string or an int32.
    IntOrString,
    /// `resource.Quantity`: a string or a number, in quantity syntax.
    Quantity,
    /// `metav1.Time` and `MicroTime`: a string.
    Time,
}

/// The compiled types of every built-in kind.
#[derive(Debug, Default)]
pub struct Types {
    nodes: Vec<Node>,
    roots: HashMap<(String, String, String), NodeId>,
}

/// The kinds the decoder knows: every built-in resource, their subresources' kinds and the
/// reviews.
fn kinds() -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = crate::sim::resource::builtins()
        .into_iter()
        .map(|t| (t.group, t.version, t.kind))
        .collect();
    out.push(("autoscaling".into(), "v1".into(), "Scale".into()));
    out.push((
        "authentication.k8s.io".into(),
        "v1".into(),
        "TokenRequest".into(),
    ));
    out
}

impl Types {
    /// The types of the built-in kinds, compiled on first use.
    pub fn builtin() -> &'static Types {
        static TYPES: OnceLock<Types> = OnceLock::new();
        TYPES.get_or_init(|| {
            let kinds = kinds();
            let refs: Vec<(&str, &str, &str)> = kinds
                .iter()
                .map(|(g, v, k)| (g.as_str(), v.as_str(), k.as_str()))
                .collect();
            let (names, defs) = crate::sim::openapi::builtin::raw_definitions(&refs);
            Types::compile(&kinds, &names, &defs)
        })
    }

    /// Compiles the definitions of `kinds` (`names[i]` is the definition of `kinds[i]`).
    pub fn compile(
        kinds: &[(String, String, String)],
        names: &[Option<String>],
        defs: &Map<String, Value>,
    ) -> Types {
        let mut c = Compiler {
            defs,
            nodes: Vec::new(),
            by_name: HashMap::new(),
        };
        let mut roots = HashMap::new();
        for (kind, name) in kinds.iter().zip(names) {
            if let Some(name) = name {
                let id = c.definition(name);
                roots.insert(kind.clone(), id);
            }
        }
        Types {
            nodes: c.nodes,
            roots,
        }
    }

    /// The root node of a kind, `None` for a kind without compiled types.
    pub fn root(&self, group: &str, version: &str, kind: &str) -> Option<NodeId> {
        self.roots
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .copied()
    }

    /// The root node of a kind by group and kind (the built-in kinds have one version each).
    pub fn root_of_kind(&self, group: &str, kind: &str) -> Option<NodeId> {
        self.roots
            .iter()
            .find(|((g, _, k), _)| g == group && k == kind)
            .map(|(_, id)| *id)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The Go type of a node as `reflect.Type.String()` prints it (`[]v1.Container`,
    /// `map[string]string`); named string types print as `string`.
    pub fn go_type(&self, id: NodeId) -> String {
        match &self.nodes[id] {
            Node::Struct { name, package, .. } => format!("{package}.{name}"),
            Node::Map(v) => format!("map[string]{}", self.go_type(*v)),
            Node::List(v) => format!("[]{}", self.go_type(*v)),
            Node::Scalar(s) => match s {
                Scalar::String => "string",
                Scalar::Bytes => "[]uint8",
                Scalar::Bool => "bool",
                Scalar::Int32 | Scalar::IntOrString => "int32",
                Scalar::Int64 => "int64",
                Scalar::Float64 => "float64",
                Scalar::Quantity => "resource.Quantity",
                Scalar::Time => "string",
            }
            .to_string(),
            Node::Any => "interface {}".to_string(),
        }
    }

    /// The node at a path of field names from `root` (list items are transparent, a map's next
    /// segment is one of its keys); `None` where the path leaves the declared fields.
    pub fn resolve(&self, root: NodeId, path: &[&str]) -> Option<NodeId> {
        let mut id = root;
        for name in path {
            while let Node::List(item) = &self.nodes[id] {
                id = *item;
            }
            id = match &self.nodes[id] {
                Node::Struct { fields, .. } => *fields.get(*name)?,
                Node::Map(v) => *v,
                Node::Any => return Some(id),
                Node::List(_) | Node::Scalar(_) => return None,
            };
        }
        Some(id)
    }
}

const REF_PREFIX: &str = "#/components/schemas/";

struct Compiler<'a> {
    defs: &'a Map<String, Value>,
    nodes: Vec<Node>,
    by_name: HashMap<String, NodeId>,
}

impl Compiler<'_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// A named definition, compiled once (a placeholder is in place while its fields are
    /// compiled, so recursive types such as `JSONSchemaProps` end).
    fn definition(&mut self, name: &str) -> NodeId {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let special = match name.rsplit('.').next().unwrap_or_default() {
            "IntOrString" => Some(Node::Scalar(Scalar::IntOrString)),
            "Quantity" => Some(Node::Scalar(Scalar::Quantity)),
            "Time" | "MicroTime" => Some(Node::Scalar(Scalar::Time)),
            "RawExtension"
            | "FieldsV1"
            | "JSON"
            | "JSONSchemaPropsOrArray"
            | "JSONSchemaPropsOrBool"
            | "JSONSchemaPropsOrStringArray" => Some(Node::Any),
            _ => None,
        };
        if let Some(node) = special {
            let id = self.push(node);
            self.by_name.insert(name.to_string(), id);
            return id;
        }
        let id = self.push(Node::Any);
        self.by_name.insert(name.to_string(), id);
        let Some(schema) = self.defs.get(name) else {
            return id;
        };
        let mut parts = name.rsplit('.');
        let type_name = parts.next().unwrap_or_default().to_string();
        let package = parts.next().unwrap_or_default().to_string();
        // A struct: an object with properties, or with none and no additionalProperties
        // (an empty Go struct such as `CustomResourceSubresourceStatus`).
        let is_struct = !preserves_unknown(schema)
            && (schema.get("properties").is_some()
                || (schema.get("type").and_then(Value::as_str) == Some("object")
                    && schema.get("additionalProperties").is_none()));
        let node = if is_struct {
            let empty = Map::new();
            let props = schema
                .get("properties")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let fields = props
                .iter()
                .map(|(k, v)| (k.clone(), self.schema(v)))
                .collect();
            Node::Struct {
                name: type_name,
                package,
                fields,
            }
        } else {
            let inline = self.schema(schema);
            self.nodes[inline].clone()
        };
        self.nodes[id] = node;
        id
    }

    /// An inline schema.
    fn schema(&mut self, s: &Value) -> NodeId {
        if let Some(name) = ref_of(s) {
            return self.definition(name);
        }
        if preserves_unknown(s) || s.get("oneOf").is_some() || s.get("anyOf").is_some() {
            return self.push(Node::Any);
        }
        if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
            return self.push(Node::Scalar(Scalar::IntOrString));
        }
        let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
        let node = match s.get("type").and_then(Value::as_str) {
            Some("object") => match s.get("additionalProperties") {
                Some(v) if v.is_object() => {
                    let value = self.schema(v);
                    Node::Map(value)
                }
                _ => Node::Any,
            },
            Some("array") => match s.get("items") {
                Some(items) => {
                    let item = self.schema(items);
                    Node::List(item)
                }
                None => Node::Any,
            },
            Some("string") => Node::Scalar(match format {
                "byte" => Scalar::Bytes,
                "date-time" => Scalar::Time,
                _ => Scalar::String,
            }),
            Some("integer") => Node::Scalar(if format == "int32" {
                Scalar::Int32
            } else {
                Scalar::Int64
            }),
            Some("number") => Node::Scalar(Scalar::Float64),
            Some("boolean") => Node::Scalar(Scalar::Bool),
            _ => Node::Any,
        };
        self.push(node)
    }
}

fn preserves_unknown(s: &Value) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

/// The definition a `$ref` (possibly inside `allOf`) names.
fn ref_of(s: &Value) -> Option<&str> {
    let r = s
        .get("$ref")
        .or_else(|| s.get("allOf")?.get(0)?.get("$ref"))?;
    r.as_str()?.strip_prefix(REF_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(t: &Types, id: NodeId, name: &str) -> NodeId {
        t.resolve(id, &[name]).unwrap()
    }

    #[test]
    fn builtin_kinds_compile_with_shared_types() {
        let t = Types::builtin();
        let deploy = t.root("apps", "v1", "Deployment").unwrap();
        let sts = t.root("apps", "v1", "StatefulSet").unwrap();
        let pod_spec = |root| t.resolve(root, &["spec", "template", "spec"]).unwrap();
        assert_eq!(pod_spec(deploy), pod_spec(sts), "one PodSpec node");
        assert_eq!(t.go_type(pod_spec(deploy)), "v1.PodSpec");
        let containers = field(t, pod_spec(deploy), "containers");
        assert_eq!(t.go_type(containers), "[]v1.Container");
        let replicas = t.resolve(deploy, &["spec", "replicas"]).unwrap();
        assert_eq!(t.node(replicas), &Node::Scalar(Scalar::Int32));
        let cm = t.root("", "v1", "ConfigMap").unwrap();
        assert_eq!(t.go_type(field(t, cm, "data")), "map[string]string");
        assert_eq!(t.go_type(field(t, cm, "binaryData")), "map[string][]uint8");
        let svc = t.root("", "v1", "Service").unwrap();
        let target = t.resolve(svc, &["spec", "ports", "targetPort"]).unwrap();
        assert_eq!(t.node(target), &Node::Scalar(Scalar::IntOrString));
        let limits = t
            .resolve(
                deploy,
                &[
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "resources",
                    "limits",
                    "cpu",
                ],
            )
            .unwrap();
        assert_eq!(t.node(limits), &Node::Scalar(Scalar::Quantity));
        assert_eq!(
            t.node(
                t.resolve(deploy, &["metadata", "managedFields", "fieldsV1"])
                    .unwrap()
            ),
            &Node::Any
        );
        assert!(t.resolve(deploy, &["spec", "bogus"]).is_none());
        // The recursive JSONSchemaProps of a CRD ends, and its JSON values are open.
        let crd = t
            .root("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
            .unwrap();
        let props = t
            .resolve(
                crd,
                &[
                    "spec",
                    "versions",
                    "schema",
                    "openAPIV3Schema",
                    "properties",
                    "spec",
                    "properties",
                ],
            )
            .unwrap();
        assert!(matches!(t.node(props), Node::Map(_)));
        let default = t
            .resolve(
                crd,
                &["spec", "versions", "schema", "openAPIV3Schema", "default"],
            )
            .unwrap();
        assert_eq!(t.node(default), &Node::Any);
        assert!(t.root("example.com", "v1", "Widget").is_none());
    }
}
