//! Command line parsing shared by the `quinn-peer` and `kquic-ko-peer` programs:
//! `--name value` options and bare `--flag`s after a mode word.

use std::net::SocketAddr;
use std::str::FromStr;

/// Parsed options of one mode.
#[derive(Debug, Default)]
pub struct Args {
    flags: Vec<String>,
    values: Vec<(String, String)>,
}

impl Args {
    /// Parses `args`: each of `flags` stands alone, every other `--name` takes the next
    /// argument as its value. `None` for anything else (a stray word, a value missing).
    pub fn parse(args: &[String], flags: &[&str]) -> Option<Self> {
        let mut a = Self::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if flags.contains(&arg.as_str()) {
                a.flags.push(arg.clone());
            } else if arg.starts_with("--") {
                a.values.push((arg.clone(), it.next()?.clone()));
            } else {
                return None;
            }
        }
        Some(a)
    }

    /// Every option name given is one of `known` (flags included).
    pub fn only(&self, known: &[&str]) -> bool {
        self.flags
            .iter()
            .chain(self.values.iter().map(|(n, _)| n))
            .all(|n| known.contains(&n.as_str()))
    }

    /// Whether the flag was given.
    pub fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    /// The (last) value of an option.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parsed value, `default` when absent; `Err` names the option that does not parse.
    pub fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            Some(v) => v.parse().map_err(|_| format!("bad {name} {v:?}")),
            None => Ok(default),
        }
    }

    /// A required value.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("{name} is required"))
    }

    /// A required socket address on loopback (`127.0.0.0/8` or `::1`): these programs are
    /// for tests and never talk to anything else.
    pub fn loopback_addr(&self, name: &str) -> Result<SocketAddr, String> {
        let v = self.required(name)?;
        let a: SocketAddr = v.parse().map_err(|_| format!("bad {name} {v:?}"))?;
        if !a.ip().is_loopback() {
            return Err(format!("{name} {a}: loopback addresses only"));
        }
        Ok(a)
    }
}

/// The unspecified-port address of `addr`'s loopback family, for a client to bind.
pub fn loopback_any_port(addr: &SocketAddr) -> SocketAddr {
    let mut a = *addr;
    a.set_port(0);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_values_and_flags() {
        let a = Args::parse(
            &args("--listen 127.0.0.1:4433 --retry --max-conns 3"),
            &["--retry"],
        )
        .unwrap();
        assert!(a.flag("--retry"));
        assert_eq!(a.parsed("--max-conns", 0u64), Ok(3));
        assert_eq!(a.parsed("--streams", 7u64), Ok(7));
        assert!(a.parsed::<u64>("--listen", 0).is_err());
        assert_eq!(a.loopback_addr("--listen").unwrap().port(), 4433);
        assert!(a.only(&["--listen", "--retry", "--max-conns"]));
        assert!(!a.only(&["--listen"]));
        assert!(a.required("--ca").is_err());
        assert!(Args::parse(&args("--listen"), &[]).is_none());
        assert!(Args::parse(&args("stray"), &[]).is_none());
    }

    #[test]
    fn loopback_only() {
        let a = Args::parse(&args("--server 10.0.0.1:1 --v6 [::1]:443"), &[]).unwrap();
        assert!(a.loopback_addr("--server").is_err());
        let v6 = a.loopback_addr("--v6").unwrap();
        assert_eq!(loopback_any_port(&v6), "[::1]:0".parse().unwrap());
    }
}
