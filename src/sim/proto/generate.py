#!/usr/bin/env python3
"""Generates `table.txt`, the protobuf field table of `src/sim/proto`.

Reads the prost annotations of the crates.io crate k8s-pb 0.9.0 (field numbers and wire types),
takes JSON field names and required-ness from k8s-openapi 0.29 (feature v1_33: each struct's
serde `Deserialize` match arms, `"podIPs" => Field::Key_pod_ips`), and keeps only the messages
reachable from the kinds the simulator serves (parsed from `src/sim/resource.rs`) plus a few
extra roots. Re-run after changing either crate or the served kinds:

    python3 src/sim/proto/generate.py > src/sim/proto/table.txt

Table format (one message per block; `#` lines are comments):

    K <apiVersion or *> <kind> <message>      a root kind of a `runtime.Unknown` envelope
    M <message>                               starts a message
    <tag> <jsonName> <type> <flags>           one field of the message above

`<type>` is `s` string, `b` bool, `i32`, `i64`, `f64`, `y` bytes (base64 in JSON), a message
name, or a special JSON form: `time`, `microtime`, `duration`, `intstr`, `quantity`, `raw`
(embedded JSON: RawExtension, FieldsV1, apiextensions JSON), `orarray`, `orbool`, `orstrings`
(JSONSchemaPropsOr*). `<flags>`: `r` repeated, `m` map (entries keyed by string, `<type>` is the
value's), `i` inline (a Go struct embedded `json:",inline"`: its fields go into the parent
object; jsonName is `-`), `k` keep a zero scalar (the field is required, or a Go pointer listed
in `pointers.txt`), `-` none.
"""

import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
REGISTRY = os.path.expanduser("~/.cargo/registry/src")


def crate_dir(name):
    found = sorted(glob.glob(os.path.join(REGISTRY, "*", name, "src")))
    if not found:
        sys.exit(f"generate.py: crate {name} is not unpacked under {REGISTRY} (k8s-pb is not a dependency: unpack its .crate there)")
    return found[-1]


PB = crate_dir("k8s-pb-0.9.0")
# v1_33 first; later versions name fields that k8s-pb 0.9.0 has and v1.33 does not yet.
OPENAPI = [os.path.join(crate_dir("k8s-openapi-0.29.0"), v) for v in ("v1_33", "v1_34", "v1_35", "v1_36", "v1_37")]

# Special messages: (module, name) -> JSON form. Their wire layout is checked below.
SPECIAL = {
    ("apimachinery/pkg/apis/meta/v1", "Time"): ("time", {1: "seconds int64", 2: "nanos int32"}),
    ("apimachinery/pkg/apis/meta/v1", "MicroTime"): ("microtime", {1: "seconds int64", 2: "nanos int32"}),
    ("apimachinery/pkg/apis/meta/v1", "Duration"): ("duration", {1: "duration int64"}),
    ("apimachinery/pkg/apis/meta/v1", "FieldsV1"): ("raw", {1: "raw bytes"}),
    ("apimachinery/pkg/runtime", "RawExtension"): ("raw", {1: "raw bytes"}),
    ("apiextensions_apiserver/pkg/apis/apiextensions/v1", "Json"): ("raw", {1: "raw bytes"}),
    ("apimachinery/pkg/util/intstr", "IntOrString"): ("intstr", {1: "type int64", 2: "int_val int32", 3: "str_val string"}),
    ("apimachinery/pkg/api/resource", "Quantity"): ("quantity", {1: "string string"}),
    ("apiextensions_apiserver/pkg/apis/apiextensions/v1", "JsonSchemaPropsOrArray"): ("orarray", {1: "schema message", 2: "j_son_schemas message"}),
    ("apiextensions_apiserver/pkg/apis/apiextensions/v1", "JsonSchemaPropsOrBool"): ("orbool", {1: "allows bool", 2: "schema message"}),
    ("apiextensions_apiserver/pkg/apis/apiextensions/v1", "JsonSchemaPropsOrStringArray"): ("orstrings", {1: "schema message", 2: "property string"}),
}
SCHEMA_PROPS = ("apiextensions_apiserver/pkg/apis/apiextensions/v1", "JsonSchemaProps")

# Roots besides the served kinds: (apiVersion or "*", kind, module, message).
EXTRA_ROOTS = [
    ("authentication.k8s.io/v1", "TokenRequest", "api/authentication/v1", "TokenRequest"),
    ("autoscaling/v1", "Scale", "api/autoscaling/v1", "Scale"),
    ("authentication.k8s.io/v1", "SelfSubjectReview", "api/authentication/v1", "SelfSubjectReview"),
    ("authentication.k8s.io/v1", "TokenReview", "api/authentication/v1", "TokenReview"),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", "api/authorization/v1", "LocalSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", "api/authorization/v1", "SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", "api/authorization/v1", "SelfSubjectRulesReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview", "api/authorization/v1", "SubjectAccessReview"),
    ("*", "DeleteOptions", "apimachinery/pkg/apis/meta/v1", "DeleteOptions"),
    ("*", "Status", "apimachinery/pkg/apis/meta/v1", "Status"),
]
# Every meta/v1 message is kept, reachable or not.
META = "apimachinery/pkg/apis/meta/v1"
UNKNOWN = ("apimachinery/pkg/runtime", "Unknown")

# Go pointer fields of scalar type: a zero value on the wire was set on purpose and is kept.
# (Non-pointer omitempty scalars are always on the wire and dropped when zero, as Go's JSON
# encoder drops them.) Taken from the k8s.io/api and apimachinery types.go files of v1.33;
# keyed by (message, jsonName).
POINTERS_FILE = os.path.join(HERE, "pointers.txt")

SCALARS = {"string": "s", "bool": "b", "int32": "i32", "int64": "i64", "double": "f64", 'bytes = "vec"': "y"}
PATH_RE = re.compile(r"((?:super::)*(?:[a-z_][a-z0-9_]*::)*[A-Z][A-Za-z0-9]*)")
SKIP_TYPES = {"Option", "Vec", "Box", "BTreeMap", "String"}


def resolve(module, path):
    parts = path.split("::")
    base = module.split("/")
    while parts and parts[0] == "super":
        parts.pop(0)
        base.pop()
    return ("/".join(base + parts[:-1]), parts[-1])


def parse_pb():
    """(module, name) -> list of (tag, rust_name, kind, flags, value_type)."""
    messages = {}
    for path in glob.glob(os.path.join(PB, "**", "mod.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), PB)
        lines = [l for l in open(path, encoding="utf-8") if not l.strip().startswith("//")]
        i = 0
        current = None
        while i < len(lines):
            line = lines[i].strip()
            m = re.match(r"pub struct (\w+) \{(\})?$", line)
            if m and m.group(2):
                messages[(module, m.group(1))] = []
            elif m:
                current = []
                messages[(module, m.group(1))] = current
            elif line == "}":
                current = None
            elif line.startswith("#[prost(") and current is not None:
                attr = line
                decl = ""
                i += 1
                while True:
                    decl += lines[i].strip()
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                    i += 1
                current.append(parse_field(module, attr, decl))
            i += 1
    return messages


def parse_field(module, attr, decl):
    inner = attr[len("#[prost(") : -2]
    tag = int(re.search(r'tag = "(\d+)"', inner).group(1))
    name = decl.split(":", 1)[0].replace("pub ", "").replace("r#", "").strip()
    ty = decl.split(":", 1)[1]
    m = re.match(r'btree_map = "string, (\w+)"', inner)
    if m:
        kind, flags = m.group(1), "m"
    else:
        kind = inner.split(",")[0].strip()
        flags = "r" if "repeated" in inner else "-"
    target = None
    if kind == "message":
        paths = [p for p in PATH_RE.findall(ty) if p.split("::")[-1] not in SKIP_TYPES]
        target = resolve(module, paths[-1])
    elif kind == "bytes":
        kind = 'bytes = "vec"'
    return (tag, name, kind, flags, target)


def norm(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


# (module, lowercased name) -> the Go (and k8s-openapi) spelling of a message name: `PodIP`.
GO_NAMES = {}


def parse_openapi():
    """(module, lowercased struct name) -> {normalized json name: (json name, required)}."""
    out = {}
    for root in OPENAPI:
        for key, names in parse_openapi_version(root).items():
            merged = out.setdefault(key, {})
            for k, v in names.items():
                merged.setdefault(k, v)
    return out


def parse_openapi_version(root):
    out = {}
    for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
        module = os.path.relpath(os.path.dirname(path), root)
        text = open(path, encoding="utf-8").read()
        m = re.search(r"pub struct (\w+) \{\n(.*?)\n\}", text, re.S)
        if not m:
            continue
        fields = dict(re.findall(r"^    pub (\w+): (.*),$", m.group(2), re.M))
        names = {}
        for json_name, rust in re.findall(r'"([^"]+)" => Field::Key_(\w+),', text):
            ty = fields.get(rust, "")
            names[norm(json_name)] = (json_name, not ty.startswith("Option<"))
        out[(module, m.group(1).lower())] = names
        GO_NAMES[(module, m.group(1).lower())] = m.group(1)
    return out


def short(key):
    module, name = key
    module = module.replace("apimachinery/pkg/apis/", "").replace("apimachinery/pkg/", "")
    module = module.replace("apiextensions_apiserver/pkg/apis/", "").replace("api/", "", 1)
    name = GO_NAMES.get((key[0], name.lower()), name)
    return module.replace("/", ".") + "." + name


def served_roots():
    text = open(os.path.join(REPO, "src", "sim", "resource.rs"), encoding="utf-8").read()
    roots = []
    for group, version, kind in re.findall(r'group: "([^"]*)", version: "([^"]*)", kind: "([^"]*)"', text):
        if group == "":
            module = "api/core/" + version
        elif group == "apiextensions.k8s.io":
            module = "apiextensions_apiserver/pkg/apis/apiextensions/" + version
        else:
            module = "api/" + group.split(".")[0] + "/" + version
        api_version = f"{group}/{version}" if group else version
        roots.append((api_version, kind, module, kind))
    return roots


def main():
    pb = parse_pb()
    openapi = parse_openapi()
    pointers = set()
    if os.path.exists(POINTERS_FILE):
        for line in open(POINTERS_FILE, encoding="utf-8"):
            line = line.split("#", 1)[0].split()
            if len(line) == 2:
                pointers.add(tuple(line))
    for key, (_, layout) in SPECIAL.items():
        got = {t: f"{n} {k}" for t, n, k, _, _ in pb[key]}
        want = {t: v.replace("bytes", 'bytes = "vec"') for t, v in layout.items()}
        if got != want:
            sys.exit(f"generate.py: {key} changed layout: {got}")

    roots = served_roots() + EXTRA_ROOTS
    queue = [(m, n) for _, _, m, n in roots] + [k for k in pb if k[0] == META] + [SCHEMA_PROPS]
    seen = set()
    order = []
    while queue:
        key = queue.pop(0)
        if key in seen or key in SPECIAL:
            continue
        if key not in pb:
            sys.exit(f"generate.py: no message {key}")
        seen.add(key)
        order.append(key)
        for _, _, kind, _, target in pb[key]:
            if target is not None:
                queue.append(target)

    # Go structs embedded with `json:",inline"` are a message field on the wire and no JSON name:
    # an unnamed message field whose fields all are JSON names of the parent is inlined.
    names = {key: openapi.get((key[0], key[1].lower()), {}) for key in order}
    inline = set()
    for key in order:
        for tag, rust, kind, flags, target in pb[key]:
            if target is None or target in SPECIAL or norm(rust) in names[key] or not names[key]:
                continue
            if all(norm(f[1]) in names[key] for f in pb[target]):
                inline.add((key, tag))
                for k, v in names[key].items():
                    names[target].setdefault(k, v)

    out = ["# Generated by generate.py from k8s-pb 0.9.0 and k8s-openapi 0.29 (v1_33). Do not edit."]
    for api_version, kind, module, name in roots:
        out.append(f"K {api_version} {kind} {short((module, name))}")
    unresolved = []
    guessed = set()
    used_pointers = set()
    for key in sorted(order, key=short):
        out.append(f"M {short(key)}")
        for tag, rust, kind, flags, target in sorted(pb[key]):
            found = names[key].get(norm(rust))
            if (key, tag) in inline:
                json_name, required, flags = "-", False, "i"
            elif found is None:
                parts = rust.split("_")
                json_name = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
                required = False
                if names[key]:
                    unresolved.append(f"{short(key)}.{rust}")
                else:
                    guessed.add(short(key))
            else:
                json_name, required = found
            if target is not None:
                ty = SPECIAL[target][0] if target in SPECIAL else short(target)
            else:
                ty = SCALARS[kind]
            if flags == "-" and target is None:
                if required or (short(key), json_name) in pointers:
                    flags = "k"
                    used_pointers.add((short(key), json_name))
            out.append(f"{tag} {json_name} {ty} {flags}")
    for p in sorted(pointers - used_pointers):
        print(f"generate.py: pointer field not in the table: {p}", file=sys.stderr)
    for u in unresolved:
        print(f"generate.py: no k8s-openapi name for {u}; guessed", file=sys.stderr)
    if guessed:
        print(f"generate.py: lowerCamel JSON names for {', '.join(sorted(guessed))} (no k8s-openapi type)", file=sys.stderr)
    print("\n".join(out))


if __name__ == "__main__":
    main()
