//! A reader for haproxy.cfg: sections (`global`, `defaults`, `frontend`,
//! `backend`, `listen`, and any other, kept by name), each a list of keyword
//! lines with their arguments and line numbers; helpers find what halab
//! needs (bind ports, servers and their checks, modes, timeouts, …).

use super::{read_text, ConfError, Loc};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct HaproxyConf {
    pub file: PathBuf,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// `global`, `defaults`, `frontend`, `backend`, `listen`, `resolvers`, …
    pub kind: String,
    pub name: Option<String>,
    pub at: Loc,
    pub lines: Vec<Directive>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    pub keyword: String,
    pub args: Vec<String>,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    /// The section that binds (`frontend main`).
    pub section: String,
    /// As written before the port: `*`, empty, an address.
    pub addr: String,
    pub port: Option<u16>,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub section: String,
    pub name: String,
    /// As written before the port: an address or a host name.
    pub addr: String,
    pub port: Option<u16>,
    pub check: bool,
    /// `inter` as written (`2000` is milliseconds, `2s` too).
    pub inter: Option<String>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub at: Loc,
}

/// Keywords that open a section (HAProxy 2.6).
const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
];

pub fn load(path: &Path) -> Result<HaproxyConf, ConfError> {
    let text = read_text(path)?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<HaproxyConf, ConfError> {
    let mut sections: Vec<Section> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = Loc::new(path, i + 1);
        let words = split(line, &at)?;
        let Some((keyword, args)) = words.split_first() else {
            continue;
        };
        if SECTIONS.contains(&keyword.as_str()) {
            sections.push(Section {
                kind: keyword.clone(),
                name: args.first().cloned(),
                at,
                lines: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(ConfError::Syntax {
                at,
                what: format!("`{keyword}` comes before any section"),
                fix: "put it under `global`, `defaults`, `frontend`, `backend` or `listen`".into(),
            });
        };
        section.lines.push(Directive {
            keyword: keyword.clone(),
            args: args.to_vec(),
            at,
        });
    }
    Ok(HaproxyConf {
        file: path.to_path_buf(),
        sections,
    })
}

/// Splits a line into words as HAProxy does: `#` starts a comment outside
/// quotes, `"…"` and `'…'` group, `\` escapes one character.
fn split(line: &str, at: &Loc) -> Result<Vec<String>, ConfError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, '#') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(ConfError::Syntax {
            at: at.clone(),
            what: "a quoted value has no closing quote".into(),
            fix: "close the quotes on the same line".into(),
        });
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

impl Section {
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} {n}", self.kind),
            None => self.kind.clone(),
        }
    }

    /// Lines whose keyword is `keyword`.
    pub fn find<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a Directive> + 'a {
        self.lines.iter().filter(move |d| d.keyword == keyword)
    }

    /// `option NAME` (and not `no option NAME`).
    pub fn option(&self, name: &str) -> Option<&Directive> {
        self.find("option")
            .find(|d| d.args.first().map(String::as_str) == Some(name))
    }
}

impl HaproxyConf {
    pub fn sections_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind)
    }

    /// Every line with `keyword` in the `global` sections.
    pub fn global<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a Directive> + 'a {
        self.sections_of("global")
            .flat_map(move |s| s.find(keyword))
    }

    /// Every `bind` in frontends and listens.
    pub fn binds(&self) -> Vec<Bind> {
        let mut out = Vec::new();
        for s in &self.sections {
            for d in s.find("bind") {
                // `bind :80,:8080 ssl …`: the first word lists addresses.
                for spec in d.args.first().map(|a| a.split(',')).into_iter().flatten() {
                    let (addr, port) = addr_port(spec);
                    out.push(Bind {
                        section: s.label(),
                        addr,
                        port,
                        at: d.at.clone(),
                    });
                }
            }
        }
        out
    }

    /// Every `server` in backends and listens.
    pub fn servers(&self) -> Vec<Server> {
        let mut out = Vec::new();
        for s in &self.sections {
            for d in s.find("server") {
                let (Some(name), Some(spec)) = (d.args.first(), d.args.get(1)) else {
                    continue;
                };
                let (addr, port) = addr_port(spec);
                let opts = &d.args[2..];
                let after = |k: &str| {
                    opts.iter()
                        .position(|o| o == k)
                        .and_then(|i| opts.get(i + 1))
                        .cloned()
                };
                out.push(Server {
                    section: s.label(),
                    name: name.clone(),
                    addr,
                    port,
                    check: opts.iter().any(|o| o == "check"),
                    inter: after("inter"),
                    rise: after("rise").and_then(|v| v.parse().ok()),
                    fall: after("fall").and_then(|v| v.parse().ok()),
                    at: d.at.clone(),
                });
            }
        }
        out
    }

    /// The `mode` of a section, else of the `defaults`, else `tcp` (HAProxy's default).
    pub fn mode_of(&self, section: &Section) -> String {
        section
            .find("mode")
            .chain(self.sections_of("defaults").flat_map(|d| d.find("mode")))
            .next()
            .and_then(|d| d.args.first().cloned())
            .unwrap_or_else(|| "tcp".into())
    }

    /// `timeout KIND VALUE` lines of the `defaults` and of `section`.
    pub fn timeouts<'a>(&'a self, section: &'a Section) -> Vec<&'a Directive> {
        self.sections_of("defaults")
            .chain(std::iter::once(section))
            .flat_map(|s| s.find("timeout"))
            .collect()
    }
}

/// `ADDR:PORT` (IPv6 in brackets or with its last colon) → address, port.
fn addr_port(spec: &str) -> (String, Option<u16>) {
    match spec.rsplit_once(':') {
        Some((a, p)) => (
            a.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().ok(),
        ),
        None => (spec.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "# global常用配置项
global
    log 127.0.0.1 local0
    maxconn 4096
    daemon
    # 要启动的haproxy的进程数量
    nbproc 4

defaults
    mode http
    option redispatch
    retries 2
    timeout connect 5000ms
    timeout server 5000ms

frontend main
    bind *:6301
    default_backend webserver

backend webserver
    server ngxin_master 172.20.128.4:80 check inter 2000 rise 2 fall 5
";

    fn p(text: &str) -> HaproxyConf {
        parse(text, Path::new("haproxy.cfg")).unwrap()
    }

    #[test]
    fn the_seeds_haproxy_cfg_reads_into_sections_with_lines() {
        let c = p(SEED);
        let kinds: Vec<_> = c.sections.iter().map(Section::label).collect();
        assert_eq!(
            kinds,
            ["global", "defaults", "frontend main", "backend webserver"]
        );
        let nbproc = c.global("nbproc").next().unwrap();
        assert_eq!(
            (nbproc.args.as_slice(), nbproc.at.line),
            (&["4".to_string()][..], 7)
        );
        assert_eq!(c.global("daemon").next().unwrap().at.line, 5);
        assert_eq!(
            c.binds(),
            [Bind {
                section: "frontend main".into(),
                addr: "*".into(),
                port: Some(6301),
                at: Loc::new("haproxy.cfg", 17)
            }]
        );
        assert_eq!(
            c.servers(),
            [Server {
                section: "backend webserver".into(),
                name: "ngxin_master".into(),
                addr: "172.20.128.4".into(),
                port: Some(80),
                check: true,
                inter: Some("2000".into()),
                rise: Some(2),
                fall: Some(5),
                at: Loc::new("haproxy.cfg", 21)
            }]
        );
        let backend = &c.sections[3];
        assert_eq!(c.mode_of(backend), "http");
        assert_eq!(c.timeouts(backend).len(), 2);
        let defaults = &c.sections[1];
        assert_eq!(defaults.option("redispatch").unwrap().at.line, 11);
        assert_eq!(defaults.find("retries").next().unwrap().args, ["2"]);
    }

    #[test]
    fn quotes_escapes_and_trailing_comments_are_handled() {
        let c = p("listen web\n  bind :8000,[::1]:8001 # two\n  http-request return status 200 content-type \"text/plain\" string 'a # b'\n  server s1 srv\\ 1:80\n");
        let binds = c.binds();
        assert_eq!(binds.len(), 2);
        assert_eq!((binds[1].addr.as_str(), binds[1].port), ("::1", Some(8001)));
        let ret = c.sections[0].find("http-request").next().unwrap();
        assert_eq!(ret.args.last().unwrap(), "a # b");
        assert_eq!(c.servers()[0].addr, "srv 1");
        assert!(!c.servers()[0].check);
    }

    #[test]
    fn a_keyword_before_any_section_or_an_open_quote_is_an_error_with_the_line() {
        assert_eq!(
            parse("\nmaxconn 10\n", Path::new("h.cfg")).unwrap_err().to_string(),
            "h.cfg:2: `maxconn` comes before any section\n  fix: put it under `global`, `defaults`, `frontend`, `backend` or `listen`"
        );
        assert_eq!(
            parse("global\n  log \"x\n", Path::new("h.cfg")).unwrap_err().to_string(),
            "h.cfg:2: a quoted value has no closing quote\n  fix: close the quotes on the same line"
        );
    }
}
