//! netlink-spec/handshake.yaml against the agent's constants (agent/src/genl.rs), numbered by
//! YNL's rules; and, when a kernel tree is at hand, against the kernel's own spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kquic_agent::genl::{
    self, accept_attr, auth, cmd, done_attr, handler_class, msg_type, x509_attr,
};
use serde_yaml::Value;

/// A spec, numbered: enums and constants, attribute sets, operations, multicast groups.
#[derive(Debug, Default)]
struct Numbered {
    name: String,
    protocol: String,
    consts: BTreeMap<String, i64>,
    enums: BTreeMap<String, BTreeMap<String, i64>>,
    sets: BTreeMap<String, BTreeMap<String, (i64, String)>>,
    ops: BTreeMap<String, i64>,
    groups: Vec<String>,
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v:?}"))
        .to_owned()
}

fn number(path: &Path) -> Numbered {
    let text = std::fs::read_to_string(path).unwrap();
    let y: Value = serde_yaml::from_str(&text).unwrap();
    let mut n = Numbered {
        name: s(&y["name"]),
        protocol: s(&y["protocol"]),
        ..Numbered::default()
    };
    for d in y["definitions"].as_sequence().unwrap() {
        let name = s(&d["name"]);
        match d["type"].as_str().unwrap() {
            "const" => {
                n.consts.insert(name, d["value"].as_i64().unwrap());
            }
            "enum" => {
                let start = d["value-start"].as_i64().unwrap_or(0);
                let entries = d["entries"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        // An entry is a name, or a mapping with a name and maybe a value.
                        let (name, value) = match e {
                            Value::String(s) => (s.clone(), None),
                            m => (s(&m["name"]), m["value"].as_i64()),
                        };
                        (name, value.unwrap_or(start + i as i64))
                    })
                    .collect();
                n.enums.insert(name, entries);
            }
            t => panic!("definition type {t}"),
        }
    }
    for set in y["attribute-sets"].as_sequence().unwrap() {
        let mut next = 1;
        let mut attrs = BTreeMap::new();
        for a in set["attributes"].as_sequence().unwrap() {
            let v = a["value"].as_i64().unwrap_or(next);
            next = v + 1;
            attrs.insert(s(&a["name"]), (v, s(&a["type"])));
        }
        n.sets.insert(s(&set["name"]), attrs);
    }
    for (i, op) in y["operations"]["list"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let v = op["value"].as_i64().unwrap_or(i as i64 + 1);
        n.ops.insert(s(&op["name"]), v);
    }
    n.groups = y["mcast-groups"]["list"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| s(&g["name"]))
        .collect();
    n
}

fn ours() -> Numbered {
    number(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../netlink-spec/handshake.yaml"))
}

#[test]
fn family_and_groups() {
    let n = ours();
    assert_eq!(n.name, genl::FAMILY_NAME);
    assert_eq!(n.protocol, "genetlink");
    assert_eq!(n.consts["max-errno"], i64::from(genl::MAX_ERRNO));
    // The group of a handler class is the class's index in the group list.
    assert_eq!(n.groups, vec![genl::MCGRP_NONE, genl::MCGRP_TLSHD]);
    assert_eq!(n.groups[handler_class::TLSHD as usize], genl::MCGRP_TLSHD);
    assert_eq!(n.groups[handler_class::NONE as usize], genl::MCGRP_NONE);
}

#[test]
fn enums() {
    let n = ours();
    let want: [(&str, &[(&str, u32)]); 3] = [
        (
            "handler-class",
            &[
                ("none", handler_class::NONE),
                ("tlshd", handler_class::TLSHD),
                ("max", handler_class::MAX),
            ],
        ),
        (
            "msg-type",
            &[
                ("unspec", msg_type::UNSPEC),
                ("clienthello", msg_type::CLIENTHELLO),
                ("serverhello", msg_type::SERVERHELLO),
            ],
        ),
        (
            "auth",
            &[
                ("unspec", auth::UNSPEC),
                ("unauth", auth::UNAUTH),
                ("psk", auth::PSK),
                ("x509", auth::X509),
            ],
        ),
    ];
    for (e, entries) in want {
        let got = &n.enums[e];
        assert_eq!(got.len(), entries.len(), "enum {e}");
        for (name, v) in entries {
            assert_eq!(got[*name], i64::from(*v), "{e}.{name}");
        }
    }
}

#[test]
fn attributes_and_operations() {
    let n = ours();
    /// Attribute name, number, type.
    type Attrs = &'static [(&'static str, u16, &'static str)];
    let want: [(&str, Attrs); 3] = [
        (
            "x509",
            &[
                ("cert", x509_attr::CERT, "s32"),
                ("privkey", x509_attr::PRIVKEY, "s32"),
            ],
        ),
        (
            "accept",
            &[
                ("sockfd", accept_attr::SOCKFD, "s32"),
                ("handler-class", accept_attr::HANDLER_CLASS, "u32"),
                ("message-type", accept_attr::MESSAGE_TYPE, "u32"),
                ("timeout", accept_attr::TIMEOUT, "u32"),
                ("auth-mode", accept_attr::AUTH_MODE, "u32"),
                ("peer-identity", accept_attr::PEER_IDENTITY, "u32"),
                ("certificate", accept_attr::CERTIFICATE, "nest"),
                ("peername", accept_attr::PEERNAME, "string"),
                ("keyring", accept_attr::KEYRING, "u32"),
            ],
        ),
        (
            "done",
            &[
                ("status", done_attr::STATUS, "u32"),
                ("sockfd", done_attr::SOCKFD, "s32"),
                ("remote-auth", done_attr::REMOTE_AUTH, "u32"),
            ],
        ),
    ];
    assert_eq!(n.sets.len(), want.len());
    for (set, attrs) in want {
        let got = &n.sets[set];
        assert_eq!(got.len(), attrs.len(), "attribute set {set}");
        for (name, v, ty) in attrs {
            assert_eq!(got[*name], (i64::from(*v), ty.to_string()), "{set}.{name}");
        }
    }
    assert_eq!(
        n.ops,
        BTreeMap::from([
            ("ready".to_owned(), i64::from(cmd::READY)),
            ("accept".to_owned(), i64::from(cmd::ACCEPT)),
            ("done".to_owned(), i64::from(cmd::DONE)),
        ])
    );
}

/// The kernel's spec, where this machine has a kernel tree (the project's build cache or
/// Debian's linux-source).
fn kernel_spec() -> Option<PathBuf> {
    let rel = "Documentation/netlink/specs/handshake.yaml";
    let mut roots = Vec::new();
    let cache = std::env::var_os("KQUIC_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kquic")));
    if let Some(c) = cache {
        if let Ok(d) = std::fs::read_dir(c.join("kernel")) {
            roots.extend(d.flatten().map(|e| e.path().join("linux")));
        }
    }
    if let Ok(d) = std::fs::read_dir("/usr/src") {
        roots.extend(d.flatten().map(|e| e.path()));
    }
    roots.into_iter().map(|r| r.join(rel)).find(|p| p.is_file())
}

#[test]
fn everything_the_kernel_spec_numbers_is_numbered_alike() {
    let Some(path) = kernel_spec() else {
        eprintln!("no kernel tree here: comparison with the kernel's spec skipped");
        return;
    };
    let k = number(&path);
    let n = ours();
    assert_eq!(k.name, n.name);
    assert_eq!(k.consts, n.consts);
    assert_eq!(k.enums, n.enums);
    assert_eq!(k.groups, n.groups);
    assert_eq!(k.ops, n.ops);
    for (set, attrs) in &k.sets {
        for (name, v) in attrs {
            assert_eq!(
                n.sets[set].get(name),
                Some(v),
                "{set}.{name} ({})",
                path.display()
            );
        }
    }
}
