//! The kernel key retention service (keyrings), through the raw system calls: reading the
//! certificates and keys a request names by serial, linking keyrings into the agent's process
//! keyring, and recording an authenticated peer's certificate as a key whose serial DONE
//! reports.

use std::ffi::CString;
use std::io;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// `KEYCTL_DESCRIBE`.
const KEYCTL_DESCRIBE: libc::c_long = 6;
/// `KEYCTL_LINK`.
const KEYCTL_LINK: libc::c_long = 8;
/// `KEYCTL_READ`.
const KEYCTL_READ: libc::c_long = 11;
/// `KEYCTL_SET_TIMEOUT`.
const KEYCTL_SET_TIMEOUT: libc::c_long = 15;
/// `KEY_SPEC_PROCESS_KEYRING`.
pub const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
/// Largest key payload read (certificates and keys are far smaller).
const MAX_PAYLOAD: usize = 1 << 20;

/// A key serial (`key_serial_t`).
pub type Serial = i32;

/// `keyctl(KEYCTL_READ)`: the payload of a key this process may read.
pub fn read(serial: Serial) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: buf is writable for buf.len() bytes; KEYCTL_READ writes at most that many
        // and returns the payload's full length.
        let r = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                libc::c_long::from(serial),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        if n > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("key {serial}: payload of {n} bytes"),
            ));
        }
        // The key grew (or buf was too small): read again with room for all of it.
        buf.resize(n, 0);
    }
}

/// `keyctl(KEYCTL_DESCRIBE)`: a key's type and description.
pub fn describe(serial: Serial) -> io::Result<(String, String)> {
    let mut buf = vec![0u8; 4200];
    // SAFETY: buf is writable for buf.len() bytes; KEYCTL_DESCRIBE writes at most that many.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            libc::c_long::from(serial),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate((r as usize).min(buf.len()));
    parse_description(&buf).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("key {serial}: unexpected description"),
        )
    })
}

/// Splits `type;uid;gid;perm;description` (NUL-terminated or not): type and description
/// (which may itself contain `;`).
pub fn parse_description(raw: &[u8]) -> Option<(String, String)> {
    let raw = raw.split(|&c| c == 0).next()?;
    let text = std::str::from_utf8(raw).ok()?;
    let mut f = text.splitn(5, ';');
    let ty = f.next()?;
    let desc = f.nth(3)?;
    Some((ty.to_owned(), desc.to_owned()))
}

/// `keyctl(KEYCTL_LINK)`: links `key` into `keyring`.
pub fn link(key: Serial, keyring: Serial) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_LINK,
            libc::c_long::from(key),
            libc::c_long::from(keyring),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `keyctl(KEYCTL_SET_TIMEOUT)`: the key expires `secs` seconds from now.
pub fn set_timeout(key: Serial, secs: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SET_TIMEOUT,
            libc::c_long::from(key),
            libc::c_long::from(secs),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `add_key(type, description, payload, keyring)`: the new key's serial.
pub fn add(ty: &str, description: &str, payload: &[u8], keyring: Serial) -> io::Result<Serial> {
    let ty = CString::new(ty).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let desc =
        CString::new(description).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: ty and desc are NUL-terminated strings; payload is readable for its length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            libc::c_long::from(keyring),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as Serial)
    }
}

/// Finds a key of type `ty` and description `description` among the keys this process can
/// see, from `/proc/keys` text (lines `serial flags usage timeout perm uid gid type desc: ...`).
pub fn find_in_proc_keys(proc_keys: &str, ty: &str, description: &str) -> Option<Serial> {
    proc_keys.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let serial = f.next()?;
        let t = f.nth(6)?;
        let rest = f.collect::<Vec<_>>().join(" ");
        let desc = rest.split_once(':').map_or(rest.as_str(), |(d, _)| d);
        if t == ty && desc == description {
            u32::from_str_radix(serial, 16).ok().map(|s| s as Serial)
        } else {
            None
        }
    })
}

/// Links the keyring described `name` (as `/proc/keys` shows it) into the process keyring.
pub fn link_keyring_by_name(name: &str) -> io::Result<Serial> {
    let text = std::fs::read_to_string("/proc/keys")?;
    let serial = find_in_proc_keys(&text, "keyring", name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no keyring {name:?} in /proc/keys"),
        )
    })?;
    link(serial, KEY_SPEC_PROCESS_KEYRING)?;
    Ok(serial)
}

/// Certificates from a key payload: PEM (one or more) or one DER certificate.
pub fn certs_from_payload(p: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    if p.starts_with(b"-----BEGIN") {
        return crate::config::certs_from_pem(p);
    }
    if p.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(p.to_vec())]);
    }
    Err("neither PEM nor a DER certificate".into())
}

/// A private key from a key payload: PEM, or DER (PKCS#8, then PKCS#1 RSA, then SEC1 EC).
pub fn key_from_payload(p: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    if p.starts_with(b"-----BEGIN") {
        return PrivateKeyDer::from_pem_slice(p).map_err(|e| format!("bad PEM key: {e}"));
    }
    if p.first() != Some(&0x30) {
        return Err("neither PEM nor a DER private key".into());
    }
    let provider = rustls::crypto::ring::default_provider();
    let candidates = [
        PrivateKeyDer::Pkcs8(p.to_vec().into()),
        PrivateKeyDer::Pkcs1(p.to_vec().into()),
        PrivateKeyDer::Sec1(p.to_vec().into()),
    ];
    candidates
        .into_iter()
        .find(|k| {
            provider
                .key_provider
                .load_private_key(k.clone_key())
                .is_ok()
        })
        .ok_or_else(|| "DER private key in no known format".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_keys_lines() {
        let text = "\
0b8e5a1c I--Q---     1 perm 3f030000     0     0 keyring   _ses: 1
1f2a3b4c I------     1 perm 1f0b0000     0     0 keyring   .nfs: 2
2a2a2a2a I------     1 perm 3f010000     0     0 user      .nfs: 1200
3b3b3b3b I------     1 perm 1f0b0000     0     0 keyring   .nvme tls: empty
";
        assert_eq!(find_in_proc_keys(text, "keyring", ".nfs"), Some(0x1f2a3b4c));
        assert_eq!(find_in_proc_keys(text, "user", ".nfs"), Some(0x2a2a2a2a));
        assert_eq!(
            find_in_proc_keys(text, "keyring", ".nvme tls"),
            Some(0x3b3b3b3b)
        );
        assert_eq!(find_in_proc_keys(text, "keyring", ".smb"), None);
        assert_eq!(find_in_proc_keys("garbage\n\n", "keyring", ".nfs"), None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            parse_description(b"user;0;0;3f010000;nvme:id;x\0"),
            Some(("user".into(), "nvme:id;x".into()))
        );
        assert_eq!(
            parse_description(b"keyring;0;0;1f0b0000;.nfs"),
            Some(("keyring".into(), ".nfs".into()))
        );
        assert_eq!(parse_description(b"user;0;0"), None);
        assert_eq!(parse_description(b"\xff;0;0;0;x"), None);
        assert!(describe(1).is_err());
    }

    #[test]
    fn payload_formats() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        assert_eq!(certs_from_payload(&der).unwrap()[0].as_ref(), &der[..]);
        assert_eq!(
            certs_from_payload(cert.pem().as_bytes()).unwrap()[0].as_ref(),
            &der[..]
        );
        assert!(certs_from_payload(b"hello").is_err());
        let k = key_from_payload(&key.serialize_der()).unwrap();
        assert!(matches!(k, PrivateKeyDer::Pkcs8(_)));
        assert!(key_from_payload(key.serialize_pem().as_bytes()).is_ok());
        assert!(key_from_payload(&[0x30, 3, 1, 2, 3]).is_err());
        assert!(key_from_payload(b"nope").is_err());
    }

    #[test]
    fn keyctl_calls_report_errors() {
        // Serial 1 is never a readable user key; an invalid keyring gives an error, not a
        // crash, whether or not this host has keyrings at all.
        assert!(read(1).is_err());
        assert!(link(1, 1).is_err());
        assert!(set_timeout(1, 1).is_err());
        assert!(add("user", "x\0y", b"", KEY_SPEC_PROCESS_KEYRING).is_err());
    }

    #[test]
    fn keyctl_round_trip_when_keyrings_exist() {
        // Containers may forbid add_key (EPERM, ENOSYS): then there is nothing to check.
        let Ok(serial) = add(
            "user",
            "kquic-agent-test",
            b"payload bytes",
            KEY_SPEC_PROCESS_KEYRING,
        ) else {
            return;
        };
        assert!(serial > 0);
        assert_eq!(read(serial).unwrap(), b"payload bytes");
        set_timeout(serial, 1).unwrap();
        // Same type and description in the same keyring: the key is updated in place.
        let again = add(
            "user",
            "kquic-agent-test",
            b"other bytes",
            KEY_SPEC_PROCESS_KEYRING,
        )
        .unwrap();
        assert_eq!(again, serial);
        assert_eq!(read(serial).unwrap(), b"other bytes");
    }
}
