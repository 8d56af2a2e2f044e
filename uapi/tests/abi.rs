//! The Rust definitions against the C header, checked by the C compiler.
//!
//! - `rust_matches_c`: a C program generated from the table below prints every structure's size
//!   and alignment, every member's offset, size and kind, and every constant's value as `gcc`
//!   sees them in `include/uapi/linux/quic.h`; the same lines are computed from this crate with
//!   `size_of`, `align_of`, `offset_of!` and the `pub const`s, and the two sets must be equal.
//! - `table_covers_header_and_crate`: the table lists exactly the constants, structures and
//!   members that the header and `src/lib.rs` define, so nothing escapes the comparison.
//! - `c_static_asserts_compile` / `netinet_header_compiles` / `header_compiles_standalone`: the
//!   hand-written C checks in `tests/c/` (values straight from abi.md) compile with `-Werror`.
//! - `static_asserts_catch_a_wrong_header`: those checks fail on a header with one wrong number.
//!
//! These tests need a C compiler (`$CC`, default `gcc`); without one they fail, never skip.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use quic_uapi::*;

// ------------------------------------------------------------------------------------------------
// Paths and the compiler
// ------------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn header_path() -> PathBuf {
    root().join("include/uapi/linux/quic.h")
}

fn c_test(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(name)
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("quic-uapi-abi-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Warnings are errors everywhere; the language standard is chosen per compile.
const WARN: &[&str] = &["-Wall", "-Wextra", "-Werror"];
/// The default: `-std=c11` plus [`WARN`].
const CFLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror"];

/// Runs the C compiler; returns whether it succeeded and its diagnostics. Panics (fails the
/// test) if the compiler cannot be run at all.
fn cc(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    let out = Command::new(&cc)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run the C compiler `{cc}` ({e}): the ABI tests need it")
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the C compiler can also compile C++ (`cc1plus` is installed).
fn has_cxx() -> bool {
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    Command::new(cc)
        .arg("-print-prog-name=cc1plus")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|p| Path::new(p.trim()).is_absolute() && Path::new(p.trim()).exists())
}

/// Compiles `src` (no linking) with [`WARN`] and `flags` and panics with the diagnostics if
/// that fails.
fn must_compile(src: &Path, include: &Path, flags: &[&str]) {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
    for f in WARN.iter().chain(flags) {
        args.push(f);
    }
    let inc = format!("-I{}", include.display());
    args.push(&inc);
    args.push(&"-c");
    args.push(&src);
    args.push(&"-o");
    args.push(&"/dev/null");
    let (ok, diag) = cc(&args);
    assert!(ok, "{} does not compile:\n{diag}", src.display());
}

// ------------------------------------------------------------------------------------------------
// The table: every structure with its members in order, every constant
// ------------------------------------------------------------------------------------------------

/// What a member is, in the words the generated C program prints (`_Generic` on the member).
trait Kind {
    const KIND: &'static str;
}
macro_rules! kind {
    ($($t:ty => $k:literal),* $(,)?) => { $(impl Kind for $t { const KIND: &'static str = $k; })* };
}
kind!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", i64 => "s64");
impl<const N: usize> Kind for [u8; N] {
    const KIND: &'static str = "u8[]";
}
kind!(
    quic_stream_update => "other",
    quic_stream_max_data => "other",
    quic_connection_close => "other",
    quic_connection_id_info => "other",
);

fn kind_of<T: Kind>(_: *const T) -> &'static str {
    T::KIND
}
fn size_of_pointee<T>(_: *const T) -> usize {
    size_of::<T>()
}

/// A structure or union: its C name, whether it is a union, its members' C names.
struct Aggregate {
    name: &'static str,
    union: bool,
    fields: Vec<&'static str>,
}

struct Table {
    aggregates: Vec<Aggregate>,
    consts: Vec<&'static str>,
    /// The expected lines, computed from the Rust definitions.
    rust_lines: Vec<String>,
}

fn c_name(rust_ident: &'static str) -> &'static str {
    rust_ident.strip_prefix("r#").unwrap_or(rust_ident)
}

macro_rules! table {
    (
        structs { $( $s:ident { $($f:ident),+ $(,)? } )+ }
        unions { $( $u:ident { $($uf:ident),+ $(,)? } )+ }
        consts { $($c:ident),+ $(,)? }
    ) => {
        fn table() -> Table {
            let mut aggregates = Vec::new();
            let mut rust_lines = Vec::new();
            $(
                let v = <$s>::default();
                // Exhaustive: fails to compile if the Rust struct has a member not listed here.
                let $s { $($f: _),+ } = v;
                aggregates.push(Aggregate {
                    name: stringify!($s),
                    union: false,
                    fields: vec![$(c_name(stringify!($f))),+],
                });
                rust_lines.push(format!("size {} {}", stringify!($s), size_of::<$s>()));
                rust_lines.push(format!("align {} {}", stringify!($s), align_of::<$s>()));
                $(
                    let f = c_name(stringify!($f));
                    rust_lines.push(format!("offset {}.{f} {}", stringify!($s), offset_of!($s, $f)));
                    rust_lines.push(format!(
                        "fsize {}.{f} {}", stringify!($s), size_of_pointee(std::ptr::addr_of!(v.$f))
                    ));
                    rust_lines.push(format!(
                        "kind {}.{f} {}", stringify!($s), kind_of(std::ptr::addr_of!(v.$f))
                    ));
                )+
            )+
            $(
                let v = <$u>::default();
                aggregates.push(Aggregate {
                    name: stringify!($u),
                    union: true,
                    fields: vec![$(c_name(stringify!($uf))),+],
                });
                rust_lines.push(format!("size {} {}", stringify!($u), size_of::<$u>()));
                rust_lines.push(format!("align {} {}", stringify!($u), align_of::<$u>()));
                $(
                    let f = c_name(stringify!($uf));
                    rust_lines.push(format!("offset {}.{f} {}", stringify!($u), offset_of!($u, $uf)));
                    rust_lines.push(format!(
                        "fsize {}.{f} {}", stringify!($u), size_of_pointee(std::ptr::addr_of!(v.$uf))
                    ));
                    rust_lines.push(format!(
                        "kind {}.{f} {}", stringify!($u), kind_of(std::ptr::addr_of!(v.$uf))
                    ));
                )+
            )+
            $( rust_lines.push(format!("const {} {}", stringify!($c), $c as i128)); )+
            Table { aggregates, consts: vec![$(stringify!($c)),+], rust_lines }
        }
    };
}

table! {
    structs {
        quic_handshake_info { crypto_level }
        quic_stream_info { stream_id, stream_flags }
        quic_transport_param {
            remote, disable_active_migration, grease_quic_bit, stateless_reset,
            disable_1rtt_encryption, disable_compatible_version, active_connection_id_limit,
            ack_delay_exponent, max_datagram_frame_size, max_udp_payload_size, max_idle_timeout,
            max_ack_delay, max_streams_bidi, max_streams_uni, max_data, max_stream_data_bidi_local,
            max_stream_data_bidi_remote, max_stream_data_uni,
        }
        quic_config {
            version, plpmtud_probe_interval, initial_smoothed_rtt, payload_cipher_type,
            congestion_control_algo, validate_peer_address, stream_data_nodelay,
            receive_session_ticket, certificate_request, reserved, keepalive_probe_interval,
        }
        quic_crypto_secret { send, level, reserved, r#type, secret }
        quic_errinfo { stream_id, errcode }
        quic_connection_id_info { dest, reserved, active, prior_to }
        quic_event_option { r#type, on }
        quic_stream_update { id, state, reserved, errcode, finalsz }
        quic_stream_max_data { id, max_data }
        quic_connection_close { errcode, frame, reserved, phrase }
    }
    unions {
        quic_event {
            update, max_data, close, info, max_stream, local_migration, key_update_phase,
        }
    }
    consts {
        IPPROTO_QUIC, SOL_QUIC,
        QUIC_STREAM_INFO, QUIC_HANDSHAKE_INFO,
        QUIC_STREAM_TYPE_SERVER_MASK, QUIC_STREAM_TYPE_UNI_MASK, QUIC_STREAM_TYPE_MASK,
        MSG_QUIC_STREAM_NEW, MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_UNI, MSG_QUIC_STREAM_DONTWAIT,
        MSG_QUIC_STREAM_SNDBLOCK, MSG_QUIC_DATAGRAM, MSG_QUIC_NOTIFICATION,
        MSG_STREAM_NEW, MSG_STREAM_FIN, MSG_STREAM_UNI, MSG_STREAM_DONTWAIT, MSG_STREAM_SNDBLOCK,
        MSG_DATAGRAM, MSG_NOTIFICATION,
        QUIC_CRYPTO_APP, QUIC_CRYPTO_INITIAL, QUIC_CRYPTO_HANDSHAKE, QUIC_CRYPTO_EARLY,
        QUIC_CRYPTO_MAX,
        QUIC_SOCKOPT_EVENT, QUIC_SOCKOPT_STREAM_OPEN, QUIC_SOCKOPT_STREAM_RESET,
        QUIC_SOCKOPT_STREAM_STOP_SENDING, QUIC_SOCKOPT_CONNECTION_ID,
        QUIC_SOCKOPT_CONNECTION_CLOSE, QUIC_SOCKOPT_CONNECTION_MIGRATION, QUIC_SOCKOPT_KEY_UPDATE,
        QUIC_SOCKOPT_TRANSPORT_PARAM, QUIC_SOCKOPT_CONFIG, QUIC_SOCKOPT_TOKEN, QUIC_SOCKOPT_ALPN,
        QUIC_SOCKOPT_SESSION_TICKET, QUIC_SOCKOPT_CRYPTO_SECRET, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
        QUIC_TOKEN_MAX_LEN, QUIC_ALPN_MAX_LEN, QUIC_TRANSPORT_PARAM_EXT_MAX_LEN,
        QUIC_VERSION_V1, QUIC_VERSION_V2,
        QUIC_CRYPTO_SECRET_BUFFER_SIZE,
        QUIC_CONG_ALG_RENO, QUIC_CONG_ALG_CUBIC, QUIC_CONG_ALG_BBR, QUIC_CONG_ALG_MAX,
        QUIC_EVENT_NONE, QUIC_EVENT_STREAM_UPDATE, QUIC_EVENT_STREAM_MAX_DATA,
        QUIC_EVENT_STREAM_MAX_STREAM, QUIC_EVENT_CONNECTION_ID, QUIC_EVENT_CONNECTION_CLOSE,
        QUIC_EVENT_CONNECTION_MIGRATION, QUIC_EVENT_KEY_UPDATE, QUIC_EVENT_NEW_TOKEN,
        QUIC_EVENT_NEW_SESSION_TICKET, QUIC_EVENT_MAX,
        QUIC_STREAM_SEND_STATE_READY, QUIC_STREAM_SEND_STATE_SEND, QUIC_STREAM_SEND_STATE_SENT,
        QUIC_STREAM_SEND_STATE_RECVD, QUIC_STREAM_SEND_STATE_RESET_SENT,
        QUIC_STREAM_SEND_STATE_RESET_RECVD, QUIC_STREAM_RECV_STATE_RECV,
        QUIC_STREAM_RECV_STATE_SIZE_KNOWN, QUIC_STREAM_RECV_STATE_RECVD,
        QUIC_STREAM_RECV_STATE_READ, QUIC_STREAM_RECV_STATE_RESET_RECVD,
        QUIC_STREAM_RECV_STATE_RESET_READ,
        QUIC_TRANSPORT_ERROR_NONE, QUIC_TRANSPORT_ERROR_INTERNAL,
        QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED, QUIC_TRANSPORT_ERROR_FLOW_CONTROL,
        QUIC_TRANSPORT_ERROR_STREAM_LIMIT, QUIC_TRANSPORT_ERROR_STREAM_STATE,
        QUIC_TRANSPORT_ERROR_FINAL_SIZE, QUIC_TRANSPORT_ERROR_FRAME_ENCODING,
        QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM, QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT,
        QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION, QUIC_TRANSPORT_ERROR_INVALID_TOKEN,
        QUIC_TRANSPORT_ERROR_APPLICATION, QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED,
        QUIC_TRANSPORT_ERROR_KEY_UPDATE, QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED,
        QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH, QUIC_TRANSPORT_ERROR_VERSION_NEGOTIATION,
        QUIC_TRANSPORT_ERROR_CRYPTO,
        TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_AES_CCM_128,
        TLS_CIPHER_CHACHA20_POLY1305,
    }
}

/// The C program that prints the same lines as `Table::rust_lines`, from the header.
fn c_program(t: &Table) -> String {
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <linux/quic.h>\n\n\
         #define KIND(x) _Generic((x), __s64: \"s64\", __u64: \"u64\", __u32: \"u32\", \
         __u16: \"u16\", __u8: \"u8\", __u8 *: \"u8[]\", default: \"other\")\n\n\
         int main(void)\n{\n",
    );
    for a in &t.aggregates {
        let ty = format!("{} {}", if a.union { "union" } else { "struct" }, a.name);
        let n = a.name;
        writeln!(c, "\tprintf(\"size {n} %zu\\n\", sizeof({ty}));").unwrap();
        writeln!(c, "\tprintf(\"align {n} %zu\\n\", _Alignof({ty}));").unwrap();
        for f in &a.fields {
            writeln!(
                c,
                "\tprintf(\"offset {n}.{f} %zu\\n\", offsetof({ty}, {f}));"
            )
            .unwrap();
            writeln!(
                c,
                "\tprintf(\"fsize {n}.{f} %zu\\n\", sizeof((({ty} *)0)->{f}));"
            )
            .unwrap();
            writeln!(
                c,
                "\tprintf(\"kind {n}.{f} %s\\n\", KIND((({ty} *)0)->{f}));"
            )
            .unwrap();
        }
    }
    for k in &t.consts {
        writeln!(c, "\tprintf(\"const {k} %lld\\n\", (long long)({k}));").unwrap();
    }
    c.push_str("\treturn 0;\n}\n");
    c
}

#[test]
fn rust_matches_c() {
    let t = table();
    let dir = Scratch::new("layout");
    let src = dir.path("layout.c");
    let exe = dir.path("layout");
    fs::write(&src, c_program(&t)).unwrap();
    let inc = format!("-I{}", root().join("include/uapi").display());
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
    for f in CFLAGS {
        args.push(f);
    }
    args.extend([&inc as &dyn AsRef<std::ffi::OsStr>, &src, &"-o", &exe]);
    let (ok, diag) = cc(&args);
    assert!(ok, "generated layout program does not compile:\n{diag}");
    let out = Command::new(&exe).output().expect("run the layout program");
    assert!(out.status.success(), "layout program failed");
    let c_lines: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let rust_lines: BTreeSet<String> = t.rust_lines.iter().cloned().collect();
    assert_eq!(
        rust_lines.len(),
        t.rust_lines.len(),
        "duplicate table entries"
    );

    let only_c: Vec<_> = c_lines.difference(&rust_lines).collect();
    let only_rust: Vec<_> = rust_lines.difference(&c_lines).collect();
    assert!(
        only_c.is_empty() && only_rust.is_empty(),
        "Rust and C disagree.\nC says:\n  {}\nRust says:\n  {}",
        only_c
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        only_rust
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
    );
    // Sanity: every aggregate and constant produced lines.
    let members: usize = t.aggregates.iter().map(|a| a.fields.len()).sum();
    assert_eq!(
        c_lines.len(),
        2 * t.aggregates.len() + 3 * members + t.consts.len()
    );
}

// ------------------------------------------------------------------------------------------------
// Completeness of the table against the header and the crate
// ------------------------------------------------------------------------------------------------

/// What the header defines: macro and enumerator names, and aggregates with their members.
struct HeaderNames {
    consts: BTreeSet<String>,
    aggregates: Vec<(String, Vec<String>)>,
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i..].find("*/") {
            Some(j) => rest = &rest[i + j + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_header(text: &str) -> HeaderNames {
    let text = strip_comments(text);
    let mut consts = BTreeSet::new();
    let mut aggregates = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap();
            if name != "_UAPI_LINUX_QUIC_H" {
                consts.insert(name.to_string());
            }
        } else if l.starts_with("enum ") && l.ends_with('{') {
            for m in lines.by_ref() {
                let m = m.trim();
                if m.starts_with("};") {
                    break;
                }
                let name = m.split(|c: char| !(c.is_alphanumeric() || c == '_')).next();
                if let Some(name) = name.filter(|n| !n.is_empty()) {
                    consts.insert(name.to_string());
                }
            }
        } else if (l.starts_with("struct ") || l.starts_with("union ")) && l.ends_with('{') {
            let name = l.split_whitespace().nth(1).unwrap().to_string();
            let mut fields = Vec::new();
            for m in lines.by_ref() {
                let m = m.trim();
                if m.starts_with("};") {
                    break;
                }
                if let Some(decl) = m.strip_suffix(';') {
                    let decl = decl.split('[').next().unwrap();
                    fields.push(decl.split_whitespace().last().unwrap().to_string());
                }
            }
            aggregates.push((name, fields));
        }
    }
    HeaderNames { consts, aggregates }
}

/// Top-level `pub const` names and the `quic_*` structures and unions of `src/lib.rs`.
fn parse_crate(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut consts = BTreeSet::new();
    let mut aggregates = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("pub const ") {
            consts.insert(rest.split(':').next().unwrap().trim().to_string());
        }
        let l = line.trim_start();
        for kw in ["pub struct quic_", "pub union quic_"] {
            if l.starts_with(kw) {
                let name = l.split_whitespace().nth(2).unwrap();
                aggregates.insert(name.trim_end_matches('{').to_string());
            }
        }
    }
    (consts, aggregates)
}

#[test]
fn table_covers_header_and_crate() {
    let t = table();
    let header = parse_header(&fs::read_to_string(header_path()).unwrap());
    let lib = fs::read_to_string(root().join("uapi/src/lib.rs")).unwrap();
    let (crate_consts, crate_aggregates) = parse_crate(&lib);

    let table_consts: BTreeSet<String> = t.consts.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        table_consts.len(),
        t.consts.len(),
        "duplicate constants in the table"
    );
    assert_eq!(table_consts, header.consts, "table vs header constants");
    assert_eq!(table_consts, crate_consts, "table vs crate constants");

    let table_aggs: Vec<(String, Vec<String>)> = t
        .aggregates
        .iter()
        .map(|a| {
            (
                a.name.to_string(),
                a.fields.iter().map(|f| f.to_string()).collect(),
            )
        })
        .collect();
    let sorted = |mut v: Vec<(String, Vec<String>)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(table_aggs.clone()),
        sorted(header.aggregates.clone()),
        "table vs header structures and members (in declaration order)"
    );
    let names: BTreeSet<String> = table_aggs.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, crate_aggregates, "table vs crate structures");
}

#[test]
fn c_static_asserts_cover_the_header() {
    // abi_layout.c holds the values from abi.md; make sure it checks everything the header has.
    let header = parse_header(&fs::read_to_string(header_path()).unwrap());
    let checks = fs::read_to_string(c_test("abi_layout.c")).unwrap();
    for k in &header.consts {
        assert!(
            checks.contains(&format!("VALUE({k}, ")),
            "abi_layout.c does not check {k}"
        );
    }
    for (agg, fields) in &header.aggregates {
        let kw = if agg == "quic_event" {
            "union"
        } else {
            "struct"
        };
        assert!(
            checks.contains(&format!("SIZE({kw} {agg}, ")),
            "abi_layout.c does not check sizeof {agg}"
        );
        for f in fields {
            assert!(
                checks.contains(&format!("FIELD({kw} {agg}, {f}, ")),
                "abi_layout.c does not check {agg}.{f}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The hand-written C checks
// ------------------------------------------------------------------------------------------------

#[test]
fn c_static_asserts_compile() {
    let uapi = root().join("include/uapi");
    must_compile(&c_test("abi_layout.c"), &uapi, &["-std=c11"]);
    must_compile(&c_test("abi_layout.c"), &uapi, &["-std=c11", "-pedantic"]);
}

#[test]
fn netinet_header_compiles() {
    must_compile(
        &c_test("netinet_protos.c"),
        &root().join("include"),
        &["-std=c11"],
    );
}

#[test]
fn header_compiles_standalone() {
    let dir = Scratch::new("standalone");
    let src = dir.path("only.c");
    fs::write(&src, "#include <linux/quic.h>\n").unwrap();
    let uapi = root().join("include/uapi");
    must_compile(&src, &uapi, &["-std=c11"]);
    // As an old-style uapi consumer.
    must_compile(&src, &uapi, &["-std=c89", "-pedantic", "-Wno-long-long"]);
    let net = dir.path("net.c");
    fs::write(&net, "#include <netinet/quic.h>\n").unwrap();
    must_compile(&net, &root().join("include"), &["-std=c11", "-pedantic"]);
    must_compile(
        &net,
        &root().join("include"),
        &["-std=c11", "-pedantic", "-DQUIC_NO_GNUTLS"],
    );
    // From C++, where the compiler has a C++ front end (g++ is not required).
    if has_cxx() {
        must_compile(&src, &uapi, &["-x", "c++", "-std=c++11"]);
        must_compile(&net, &root().join("include"), &["-x", "c++", "-std=c++11"]);
    } else {
        eprintln!("no C++ front end: C++ inclusion not checked");
    }
}

#[test]
fn static_asserts_catch_a_wrong_header() {
    let header = fs::read_to_string(header_path()).unwrap();
    let mutations = [
        // a wrong number
        (
            "#define QUIC_SOCKOPT_CONFIG\t\t\t9",
            "#define QUIC_SOCKOPT_CONFIG\t\t\t10",
        ),
        // a member with the right size but the wrong signedness
        ("\t__s64\tstream_id;", "\t__u64\tstream_id;"),
        // a member out of order
        (
            "\t__u16\tmax_datagram_frame_size;\n\t__u16\tmax_udp_payload_size;",
            "\t__u16\tmax_udp_payload_size;\n\t__u16\tmax_datagram_frame_size;",
        ),
    ];
    for (i, (from, to)) in mutations.iter().enumerate() {
        assert!(header.contains(from), "mutation {i} no longer applies");
        let dir = Scratch::new(&format!("mutant{i}"));
        fs::create_dir_all(dir.path("linux")).unwrap();
        fs::write(dir.path("linux/quic.h"), header.replacen(from, to, 1)).unwrap();
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
        for f in CFLAGS {
            args.push(f);
        }
        let inc = format!("-I{}", dir.0.display());
        let src = c_test("abi_layout.c");
        args.extend([
            &inc as &dyn AsRef<std::ffi::OsStr>,
            &"-c",
            &src,
            &"-o",
            &"/dev/null",
        ]);
        let (ok, _) = cc(&args);
        assert!(
            !ok,
            "abi_layout.c accepted a header with {to:?} instead of {from:?}"
        );
    }
}
