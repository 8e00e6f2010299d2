//! A reader for real-world keepalived.conf: comments (`#`, `!`), `include`
//! with globs, quoted values, nested blocks, several VRRP instances, check
//! scripts and LVS virtual servers (read so that lint can refuse them).
//!
//! It reads what halab needs to probe and judge a node; keywords it does not
//! need are skipped, as keepalived's own reader skips unknown ones.
//!
//! One file on purpose (it is long): a tokenizer, the block reader and the
//! typed model it fills only make sense together.

use super::{read_text, ConfError, Loc, Spanned};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Includes nest at most this deep (keepalived itself has no bound; a loop
/// of includes must end in an error, not a stack overflow).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// At most this many files are read for one configuration.
pub const MAX_FILES: usize = 256;
/// Blocks nest at most this deep (keepalived's deepest real nesting is 4).
pub const MAX_BLOCK_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeepalivedConf {
    /// The file read first.
    pub file: PathBuf,
    /// Every file read, the main one first, then each include in order.
    pub files: Vec<PathBuf>,
    pub global: GlobalDefs,
    pub scripts: Vec<VrrpScript>,
    pub instances: Vec<VrrpInstance>,
    pub virtual_servers: Vec<VirtualServer>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalDefs {
    pub router_id: Option<Spanned<String>>,
    /// `vrrp_version 2|3` (keepalived's default is 2).
    pub vrrp_version: Option<Spanned<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VrrpScript {
    pub name: String,
    pub at: Loc,
    pub script: Option<Spanned<String>>,
    /// Seconds as written (kept as text too, so lint can see `0.5`).
    pub interval: Option<Spanned<Number>>,
    pub weight: Option<Spanned<i32>>,
    pub fall: Option<Spanned<u32>>,
    pub rise: Option<Spanned<u32>>,
    pub timeout: Option<Spanned<Number>>,
}

/// A number as written and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    pub text: String,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    pub at: Loc,
    pub auth_type: Option<Spanned<AuthType>>,
    pub pass: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vip {
    pub addr: IpAddr,
    /// The prefix length as written (`/24`); keepalived takes /32 without one.
    pub prefix: Option<u8>,
    pub dev: Option<String>,
    pub label: Option<String>,
    pub scope: Option<String>,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrackScript {
    pub name: String,
    pub weight: Option<i32>,
    pub at: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstance {
    pub name: String,
    pub at: Loc,
    pub state: Option<Spanned<State>>,
    pub interface: Option<Spanned<String>>,
    pub virtual_router_id: Option<Spanned<u8>>,
    pub priority: Option<Spanned<u8>>,
    pub advert_int: Option<Spanned<Number>>,
    /// The instance's own `version`, which overrides `global_defs`.
    pub version: Option<Spanned<u8>>,
    pub nopreempt: Option<Loc>,
    pub unicast_src_ip: Option<Spanned<IpAddr>>,
    pub unicast_peers: Vec<Spanned<IpAddr>>,
    pub mcast_src_ip: Option<Spanned<IpAddr>>,
    pub auth: Option<Auth>,
    pub vips: Vec<Vip>,
    pub track_scripts: Vec<TrackScript>,
}

impl VrrpInstance {
    /// Unicast when any peer is listed; multicast (keepalived's default) otherwise.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VirtualServer {
    /// As written: an address, `fwmark N` or `group NAME`.
    pub addr: String,
    pub port: Option<String>,
    pub at: Loc,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RealServer {
    pub addr: String,
    pub port: Option<String>,
    pub at: Loc,
}

impl KeepalivedConf {
    /// The VRRP version in force for `inst`: its own `version`, else
    /// `global_defs`' `vrrp_version`, else keepalived's default, 2.
    pub fn version_of(&self, inst: &VrrpInstance) -> u8 {
        inst.version
            .as_ref()
            .or(self.global.vrrp_version.as_ref())
            .map(|v| v.value)
            .unwrap_or(2)
    }

    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The instance named `wanted`, or the only one; otherwise an error that
    /// lists the instances.
    pub fn instance(&self, wanted: Option<&str>) -> Result<&VrrpInstance, ConfError> {
        let available = || self.instances.iter().map(|i| i.name.clone()).collect();
        if self.instances.is_empty() {
            return Err(ConfError::NoInstance {
                file: self.file.clone(),
            });
        }
        match wanted {
            Some(w) => self.instances.iter().find(|i| i.name == w).ok_or_else(|| {
                ConfError::InstanceChoice {
                    file: self.file.clone(),
                    wanted: Some(w.to_string()),
                    available: available(),
                }
            }),
            None if self.instances.len() == 1 => Ok(&self.instances[0]),
            None => Err(ConfError::InstanceChoice {
                file: self.file.clone(),
                wanted: None,
                available: available(),
            }),
        }
    }
}

/// Reads `path` and every file it includes.
pub fn load(path: &Path) -> Result<KeepalivedConf, ConfError> {
    let text = read_text(path)?;
    parse(&text, path)
}

/// Reads `text` as if it were the content of `path` (includes are resolved
/// from `path`'s folder).
pub fn parse(text: &str, path: &Path) -> Result<KeepalivedConf, ConfError> {
    let mut lexer = Lexer::default();
    lexer.file(text, path, &mut vec![canonical(path)], 0)?;
    let stmts = build_tree(lexer.toks)?;
    let mut conf = KeepalivedConf {
        file: path.to_path_buf(),
        files: lexer.files,
        ..Default::default()
    };
    read_top(&stmts, &mut conf)?;
    Ok(conf)
}

// ---- lexing -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Eol,
}

#[derive(Default)]
struct Lexer {
    toks: Vec<(Tok, Loc)>,
    files: Vec<PathBuf>,
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Lexer {
    fn file(
        &mut self,
        text: &str,
        path: &Path,
        chain: &mut Vec<PathBuf>,
        depth: usize,
    ) -> Result<(), ConfError> {
        self.files.push(path.to_path_buf());
        for (i, line) in text.lines().enumerate() {
            let at = Loc::new(path, i + 1);
            let toks = lex_line(line, &at)?;
            // keepalived's own preprocessor (`$NAME=value` definitions and
            // their uses, `@host` lines kept only on one host) needs the
            // machine's name and the whole definition table: refused rather
            // than read wrongly.
            let first = line.trim_start();
            if first.starts_with('$') || first.starts_with('@') {
                return Err(ConfError::Syntax {
                    at,
                    what: "keepalived's `$` variables and `@` per-host lines are not read by halab"
                        .into(),
                    fix: "write the values out in one file per node".into(),
                });
            }
            if let Some(Tok::Word(w)) = toks.first() {
                if w == "include" {
                    self.include(&toks[1..], path, &at, chain, depth)?;
                    continue;
                }
            }
            self.toks.extend(toks.into_iter().map(|t| (t, at.clone())));
            self.toks.push((Tok::Eol, at));
        }
        Ok(())
    }

    fn include(
        &mut self,
        args: &[Tok],
        from: &Path,
        at: &Loc,
        chain: &mut Vec<PathBuf>,
        depth: usize,
    ) -> Result<(), ConfError> {
        let pattern = match args.first() {
            Some(Tok::Word(p)) => p.clone(),
            _ => {
                return Err(ConfError::MissingValue {
                    at: at.clone(),
                    keyword: "include".into(),
                    example: "/etc/keepalived/conf.d/*.conf".into(),
                })
            }
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(ConfError::IncludeDepth {
                at: at.clone(),
                limit: MAX_INCLUDE_DEPTH,
            });
        }
        let base = from.parent().unwrap_or(Path::new("."));
        let full = if Path::new(&pattern).is_absolute() {
            PathBuf::from(&pattern)
        } else {
            base.join(&pattern)
        };
        let has_wildcard = pattern.contains(['*', '?', '[']);
        let matches = glob(&full);
        if matches.is_empty() && !has_wildcard {
            return Err(ConfError::IncludeMissing {
                at: at.clone(),
                pattern,
            });
        }
        for file in matches {
            let canon = canonical(&file);
            if chain.contains(&canon) {
                return Err(ConfError::IncludeCycle {
                    at: at.clone(),
                    path: file,
                    chain: chain.clone(),
                });
            }
            if self.files.len() >= MAX_FILES {
                return Err(ConfError::Syntax {
                    at: at.clone(),
                    what: format!("more than {MAX_FILES} files are included"),
                    fix: "include fewer files".into(),
                });
            }
            let text = read_text(&file)?;
            chain.push(canon);
            self.file(&text, &file, chain, depth + 1)?;
            chain.pop();
        }
        Ok(())
    }
}

/// Splits one line into words and braces. `#` and `!` start a comment where
/// a word could start; `"…"` is one word with its spaces.
fn lex_line(line: &str, at: &Loc) -> Result<Vec<Tok>, ConfError> {
    let mut toks = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' | '!' => break,
            '{' => {
                chars.next();
                toks.push(Tok::Open);
            }
            '}' => {
                chars.next();
                toks.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut word = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    word.push(c);
                }
                if !closed {
                    return Err(ConfError::Syntax {
                        at: at.clone(),
                        what: "a quoted value has no closing `\"`".into(),
                        fix: "close the quotes on the same line".into(),
                    });
                }
                toks.push(Tok::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '{' || c == '}' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                toks.push(Tok::Word(word));
            }
        }
    }
    Ok(toks)
}

/// Expands `*`, `?` and `[…]` in any component of `pattern`; sorted, as
/// glob(3) returns them.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy();
        let wild = matches!(comp, Component::Normal(_)) && part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &found {
            if !wild {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && wild_match(&part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
    }
    found.into_iter().filter(|p| p.is_file()).collect()
}

/// Shell-style match of one path component.
fn wild_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative with one backtrack point for the last `*`: linear-ish, no recursion.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class_match(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `[abc]`, `[a-z]`, `[!x]`: whether `c` matches, and the class's length.
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let end = p.iter().skip(2).position(|&x| x == ']')? + 2;
    let body = &p[1..end];
    let (negate, body) = match body.first() {
        Some('!') | Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut hit = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            hit |= body[i] <= c && c <= body[i + 2];
            i += 3;
        } else {
            hit |= body[i] == c;
            i += 1;
        }
    }
    Some((hit != negate, end + 1))
}

// ---- tree ---------------------------------------------------------------

#[derive(Debug, Clone)]
struct Stmt {
    words: Vec<String>,
    at: Loc,
    block: Option<Vec<Stmt>>,
}

impl Stmt {
    fn key(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }
    fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }
    fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or(&[])
    }
}

fn build_tree(toks: Vec<(Tok, Loc)>) -> Result<Vec<Stmt>, ConfError> {
    // Each frame: the statements of one open block, and where it opened.
    let mut stack: Vec<(Vec<Stmt>, Option<Loc>)> = vec![(Vec::new(), None)];
    let mut cur: Option<Stmt> = None;
    for (tok, at) in toks {
        match tok {
            Tok::Word(w) => cur
                .get_or_insert_with(|| Stmt {
                    words: Vec::new(),
                    at: at.clone(),
                    block: None,
                })
                .words
                .push(w),
            Tok::Eol => {
                if let Some(s) = cur.take() {
                    push_stmt(&mut stack, s);
                }
            }
            Tok::Open => {
                match cur.take() {
                    Some(s) => push_stmt(&mut stack, s),
                    None => {
                        // `{` on the line after its keyword: it opens the
                        // previous statement's block.
                        let reopenable = stack
                            .last()
                            .and_then(|f| f.0.last())
                            .is_some_and(|s| s.block.is_none());
                        if !reopenable {
                            return Err(ConfError::Syntax {
                                at,
                                what: "`{` opens a block without a keyword".into(),
                                fix: "write the block's keyword before `{` (e.g. `vrrp_instance VI_1 {`)"
                                    .into(),
                            });
                        }
                    }
                }
                if stack.len() > MAX_BLOCK_DEPTH {
                    return Err(ConfError::Syntax {
                        at,
                        what: format!("blocks nest deeper than {MAX_BLOCK_DEPTH} levels"),
                        fix: "close the blocks with `}`".into(),
                    });
                }
                stack.push((Vec::new(), Some(at)));
            }
            Tok::Close => {
                if let Some(s) = cur.take() {
                    push_stmt(&mut stack, s);
                }
                if stack.len() == 1 {
                    return Err(ConfError::Syntax {
                        at,
                        what: "`}` closes no open block".into(),
                        fix: "remove the extra `}` or add the block it should close".into(),
                    });
                }
                let (children, _) = stack.pop().unwrap_or_default();
                if let Some(owner) = stack.last_mut().and_then(|f| f.0.last_mut()) {
                    owner.block = Some(children);
                }
            }
        }
    }
    if let Some(s) = cur.take() {
        push_stmt(&mut stack, s);
    }
    if stack.len() > 1 {
        let opened = stack.pop().and_then(|f| f.1).unwrap_or_default();
        return Err(ConfError::Syntax {
            at: opened,
            what: "this block is never closed".into(),
            fix: "add the missing `}`".into(),
        });
    }
    Ok(stack.pop().map(|f| f.0).unwrap_or_default())
}

fn push_stmt(stack: &mut [(Vec<Stmt>, Option<Loc>)], s: Stmt) {
    if let Some(frame) = stack.last_mut() {
        frame.0.push(s);
    }
}

// ---- model --------------------------------------------------------------

fn read_top(stmts: &[Stmt], conf: &mut KeepalivedConf) -> Result<(), ConfError> {
    for s in stmts {
        match s.key() {
            "global_defs" => {
                for g in s.children() {
                    match g.key() {
                        "router_id" => conf.global.router_id = Some(string(g, "LVS_MAIN")?),
                        "vrrp_version" => {
                            conf.global.vrrp_version = Some(version(g)?);
                        }
                        _ => {}
                    }
                }
            }
            "vrrp_script" => conf.scripts.push(read_script(s)?),
            "vrrp_instance" => conf.instances.push(read_instance(s)?),
            "virtual_server" => conf.virtual_servers.push(read_virtual_server(s)),
            _ => {}
        }
    }
    Ok(())
}

fn name_of(s: &Stmt, example: &str) -> Result<String, ConfError> {
    s.arg(1)
        .map(str::to_string)
        .ok_or_else(|| ConfError::MissingValue {
            at: s.at.clone(),
            keyword: s.key().to_string(),
            example: example.to_string(),
        })
}

fn string(s: &Stmt, example: &str) -> Result<Spanned<String>, ConfError> {
    Ok(Spanned::new(name_of(s, example)?, s.at.clone()))
}

fn bad(s: &Stmt, expected: &str) -> ConfError {
    ConfError::BadValue {
        at: s.at.clone(),
        keyword: s.key().to_string(),
        value: s.words[1..].join(" "),
        expected: expected.to_string(),
    }
}

fn parsed<T: std::str::FromStr>(
    s: &Stmt,
    example: &str,
    expected: &str,
    ok: impl Fn(&T) -> bool,
) -> Result<Spanned<T>, ConfError> {
    let text = name_of(s, example)?;
    match text.parse::<T>() {
        Ok(v) if ok(&v) => Ok(Spanned::new(v, s.at.clone())),
        _ => Err(bad(s, expected)),
    }
}

fn number(s: &Stmt, example: &str, expected: &str) -> Result<Spanned<Number>, ConfError> {
    let text = name_of(s, example)?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => {
            Ok(Spanned::new(Number { text, value }, s.at.clone()))
        }
        _ => Err(bad(s, expected)),
    }
}

fn version(s: &Stmt) -> Result<Spanned<u8>, ConfError> {
    parsed(s, "3", "2 or 3", |v: &u8| *v == 2 || *v == 3)
}

fn ip(s: &Stmt, keyword: &str, word: &str) -> Result<IpAddr, ConfError> {
    word.parse().map_err(|_| ConfError::BadValue {
        at: s.at.clone(),
        keyword: keyword.to_string(),
        value: word.to_string(),
        expected: "an IP address such as 172.20.128.2".into(),
    })
}

fn read_script(s: &Stmt) -> Result<VrrpScript, ConfError> {
    let mut v = VrrpScript {
        name: name_of(s, "chk_nginx {")?,
        at: s.at.clone(),
        script: None,
        interval: None,
        weight: None,
        fall: None,
        rise: None,
        timeout: None,
    };
    for c in s.children() {
        match c.key() {
            // keepalived joins the rest of the line: `script /bin/check arg`.
            "script" => {
                if c.words.len() < 2 {
                    return Err(ConfError::MissingValue {
                        at: c.at.clone(),
                        keyword: "script".into(),
                        example: "\"/etc/keepalived/check_nginx.sh\"".into(),
                    });
                }
                v.script = Some(Spanned::new(c.words[1..].join(" "), c.at.clone()));
            }
            "interval" => v.interval = Some(number(c, "2", "a number of seconds")?),
            "timeout" => v.timeout = Some(number(c, "2", "a number of seconds")?),
            "weight" => {
                v.weight = Some(parsed(
                    c,
                    "-20",
                    "a whole number from -253 to 253",
                    |w: &i32| (-253..=253).contains(w),
                )?)
            }
            "fall" => v.fall = Some(parsed(c, "2", "a whole number ≥ 1", |n: &u32| *n >= 1)?),
            "rise" => v.rise = Some(parsed(c, "2", "a whole number ≥ 1", |n: &u32| *n >= 1)?),
            _ => {}
        }
    }
    Ok(v)
}

fn read_instance(s: &Stmt) -> Result<VrrpInstance, ConfError> {
    let mut v = VrrpInstance {
        name: name_of(s, "VI_1 {")?,
        at: s.at.clone(),
        state: None,
        interface: None,
        virtual_router_id: None,
        priority: None,
        advert_int: None,
        version: None,
        nopreempt: None,
        unicast_src_ip: None,
        unicast_peers: Vec::new(),
        mcast_src_ip: None,
        auth: None,
        vips: Vec::new(),
        track_scripts: Vec::new(),
    };
    for c in s.children() {
        match c.key() {
            "state" => {
                let st = match name_of(c, "MASTER")?.as_str() {
                    "MASTER" => State::Master,
                    "BACKUP" => State::Backup,
                    _ => return Err(bad(c, "MASTER or BACKUP")),
                };
                v.state = Some(Spanned::new(st, c.at.clone()));
            }
            "interface" => v.interface = Some(string(c, "eth0")?),
            "virtual_router_id" => {
                v.virtual_router_id = Some(parsed(
                    c,
                    "51",
                    "a whole number from 1 to 255",
                    |n: &u8| *n >= 1,
                )?)
            }
            "priority" => {
                v.priority = Some(parsed(
                    c,
                    "100",
                    "a whole number from 1 to 255",
                    |n: &u8| *n >= 1,
                )?)
            }
            "advert_int" => {
                let n = number(c, "1", "a number of seconds greater than 0")?;
                if n.value.value <= 0.0 {
                    return Err(bad(c, "a number of seconds greater than 0"));
                }
                v.advert_int = Some(n);
            }
            "version" => v.version = Some(version(c)?),
            "nopreempt" => v.nopreempt = Some(c.at.clone()),
            "unicast_src_ip" => {
                let w = name_of(c, "172.20.128.2")?;
                v.unicast_src_ip = Some(Spanned::new(ip(c, c.key(), &w)?, c.at.clone()));
            }
            "mcast_src_ip" => {
                let w = name_of(c, "172.20.128.2")?;
                v.mcast_src_ip = Some(Spanned::new(ip(c, c.key(), &w)?, c.at.clone()));
            }
            "unicast_peer" => {
                for p in c.children() {
                    v.unicast_peers
                        .push(Spanned::new(ip(p, "unicast_peer", p.key())?, p.at.clone()));
                }
            }
            "authentication" => {
                let mut auth = Auth {
                    at: c.at.clone(),
                    auth_type: None,
                    pass: None,
                };
                for a in c.children() {
                    match a.key() {
                        "auth_type" => {
                            let t = match name_of(a, "PASS")?.as_str() {
                                "PASS" => AuthType::Pass,
                                "AH" => AuthType::Ah,
                                _ => return Err(bad(a, "PASS or AH")),
                            };
                            auth.auth_type = Some(Spanned::new(t, a.at.clone()));
                        }
                        "auth_pass" => auth.pass = Some(string(a, "secret")?),
                        _ => {}
                    }
                }
                v.auth = Some(auth);
            }
            "virtual_ipaddress" => {
                for a in c.children() {
                    v.vips.push(read_vip(a)?);
                }
            }
            "track_script" => {
                for t in c.children() {
                    let weight = match (t.arg(1), t.arg(2)) {
                        (Some("weight"), Some(w)) => Some(w.parse().map_err(|_| {
                            bad(t, "`NAME weight N` with N a whole number from -253 to 253")
                        })?),
                        _ => None,
                    };
                    v.track_scripts.push(TrackScript {
                        name: t.key().to_string(),
                        weight,
                        at: t.at.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

/// `ADDR[/PREFIX] [brd X] [dev IF] [scope S] [label L] …`
fn read_vip(s: &Stmt) -> Result<Vip, ConfError> {
    let first = s.key();
    let (addr, prefix) =
        match first.split_once('/') {
            Some((a, p)) => {
                let a: IpAddr = ip(s, "virtual_ipaddress", a)?;
                let max = if a.is_ipv4() { 32 } else { 128 };
                let p = p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    ConfError::BadValue {
                        at: s.at.clone(),
                        keyword: "virtual_ipaddress".into(),
                        value: first.to_string(),
                        expected: format!(
                        "an address with a prefix length from 0 to {max}, such as 172.20.128.4/24"
                    ),
                    }
                })?;
                (a, Some(p))
            }
            None => (ip(s, "virtual_ipaddress", first)?, None),
        };
    let mut vip = Vip {
        addr,
        prefix,
        dev: None,
        label: None,
        scope: None,
        at: s.at.clone(),
    };
    let mut rest = s.words[1..].iter();
    while let Some(k) = rest.next() {
        let val = rest.next().cloned();
        match k.as_str() {
            "dev" => vip.dev = val,
            "label" => vip.label = val,
            "scope" => vip.scope = val,
            _ => {}
        }
    }
    Ok(vip)
}

fn read_virtual_server(s: &Stmt) -> VirtualServer {
    let real_servers = s
        .children()
        .iter()
        .filter(|c| c.key() == "real_server")
        .map(|c| RealServer {
            addr: c.arg(1).unwrap_or("").to_string(),
            port: c.arg(2).map(str::to_string),
            at: c.at.clone(),
        })
        .collect();
    VirtualServer {
        addr: s.words[1..].first().cloned().unwrap_or_default(),
        port: s.arg(2).map(str::to_string),
        at: s.at.clone(),
        real_servers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> KeepalivedConf {
        parse(text, Path::new("k.conf")).unwrap()
    }
    fn err(text: &str) -> String {
        parse(text, Path::new("k.conf")).unwrap_err().to_string()
    }

    const SEED_SLAVE: &str = r#"vrrp_script chk_nginx {
    script "pidof nginx"
    interval 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 33
    priority 100
    advert_int 1
    unicast_src_ip 172.20.128.3
    unicast_peer {
        172.20.128.2
    }
    authentication {
        auth_type PASS
        auth_pass letmein
    }
    virtual_ipaddress {
        172.20.128.4/24 dev eth0
    }
    track_script {
        chk_nginx
    }
}
"#;

    #[test]
    fn the_seeds_backup_config_reads_into_the_model() {
        let c = p(SEED_SLAVE);
        let i = c.instance(None).unwrap();
        assert_eq!(i.name, "VI_1");
        assert_eq!(i.state.as_ref().unwrap().value, State::Backup);
        assert_eq!(i.interface.as_ref().unwrap().value, "eth0");
        assert_eq!(i.virtual_router_id.as_ref().unwrap().value, 33);
        assert_eq!(i.priority.as_ref().unwrap().value, 100);
        assert_eq!(i.priority.as_ref().unwrap().at, Loc::new("k.conf", 9));
        assert_eq!(i.advert_int.as_ref().unwrap().value.value, 1.0);
        assert_eq!(
            i.unicast_src_ip.as_ref().unwrap().value,
            "172.20.128.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(i.unicast_peers.len(), 1);
        assert_eq!(i.unicast_peers[0].at.line, 13);
        assert!(i.is_unicast());
        let auth = i.auth.as_ref().unwrap();
        assert_eq!(auth.auth_type.as_ref().unwrap().value, AuthType::Pass);
        assert_eq!(auth.pass.as_ref().unwrap().value, "letmein");
        assert_eq!(i.vips.len(), 1);
        assert_eq!(i.vips[0].addr.to_string(), "172.20.128.4");
        assert_eq!(i.vips[0].prefix, Some(24));
        assert_eq!(i.vips[0].dev.as_deref(), Some("eth0"));
        assert_eq!(i.track_scripts[0].name, "chk_nginx");
        let s = c.script("chk_nginx").unwrap();
        assert_eq!(s.script.as_ref().unwrap().value, "pidof nginx");
        assert_eq!(s.interval.as_ref().unwrap().value.value, 2.0);
        assert_eq!(c.version_of(i), 2);
    }

    #[test]
    fn comments_with_hash_and_bang_are_skipped_also_after_values() {
        let c = p("! a comment\n# another\nvrrp_instance VI_1 { # opens\n  priority 150 ! the priority\n  state MASTER # first\n}\n");
        let i = c.instance(None).unwrap();
        assert_eq!(i.priority.as_ref().unwrap().value, 150);
        assert_eq!(i.state.as_ref().unwrap().value, State::Master);
    }

    #[test]
    fn quoted_values_keep_their_spaces_and_comment_characters() {
        let c = p("vrrp_script chk {\n  script \"/bin/check --name 'a b' #1\"\n  interval 1\n  weight -20\n  fall 3\n  rise 2\n}\n");
        let s = c.script("chk").unwrap();
        assert_eq!(
            s.script.as_ref().unwrap().value,
            "/bin/check --name 'a b' #1"
        );
        assert_eq!(s.weight.as_ref().unwrap().value, -20);
        assert_eq!(s.fall.as_ref().unwrap().value, 3);
        assert_eq!(s.rise.as_ref().unwrap().value, 2);
    }

    #[test]
    fn blocks_may_open_on_the_next_line_and_close_on_the_same_line() {
        let c = p("vrrp_instance VI_1\n{\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress {\n    10.0.0.9/24 dev eth1 label eth1:vip scope global\n    10.0.0.10\n  }\n}\n");
        let i = c.instance(None).unwrap();
        assert_eq!(i.unicast_peers[0].value.to_string(), "10.0.0.2");
        assert_eq!(i.vips[0].label.as_deref(), Some("eth1:vip"));
        assert_eq!(i.vips[0].scope.as_deref(), Some("global"));
        assert_eq!(i.vips[0].dev.as_deref(), Some("eth1"));
        assert_eq!(i.vips[1].prefix, None);
    }

    #[test]
    fn multicast_instances_have_no_peers() {
        let c = p("global_defs {\n  router_id LB1\n  vrrp_version 3\n}\nvrrp_instance V {\n  mcast_src_ip 10.0.0.1\n  advert_int 0.1\n  nopreempt\n}\n");
        let i = c.instance(None).unwrap();
        assert!(!i.is_unicast());
        assert_eq!(
            i.mcast_src_ip.as_ref().unwrap().value.to_string(),
            "10.0.0.1"
        );
        assert_eq!(c.version_of(i), 3);
        assert_eq!(c.global.router_id.as_ref().unwrap().value, "LB1");
        assert_eq!(i.nopreempt, Some(Loc::new("k.conf", 8)));
        assert_eq!(i.advert_int.as_ref().unwrap().value.text, "0.1");
    }

    #[test]
    fn several_instances_are_chosen_by_name_or_refused_with_the_list() {
        let c = p("vrrp_instance VI_1 {\n}\nvrrp_instance VI_2 {\n  priority 9\n}\n");
        assert_eq!(c.instance(Some("VI_2")).unwrap().name, "VI_2");
        assert_eq!(
            c.instance(None).unwrap_err().to_string(),
            "`k.conf` has 2 vrrp_instances: `VI_1`, `VI_2`\n  fix: choose one with `--instance NAME`"
        );
        assert_eq!(
            c.instance(Some("VI_11")).unwrap_err().to_string(),
            "`k.conf` has no vrrp_instance `VI_11` (did you mean `VI_1`?); it has `VI_1`, `VI_2`\n  fix: choose one of them with `--instance NAME`"
        );
        assert_eq!(
            p("global_defs {\n}\n").instance(None).unwrap_err().to_string(),
            "`k.conf` has no vrrp_instance\n  fix: point at the keepalived.conf that defines the VRRP instance"
        );
    }

    #[test]
    fn virtual_servers_and_their_real_servers_are_read() {
        let c = p("virtual_server 10.0.0.1 80 {\n  lb_kind DR\n  real_server 172.16.16.177 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n");
        let vs = &c.virtual_servers[0];
        assert_eq!(
            (vs.addr.as_str(), vs.port.as_deref()),
            ("10.0.0.1", Some("80"))
        );
        assert_eq!(vs.real_servers[0].addr, "172.16.16.177");
        assert_eq!(vs.real_servers[0].at.line, 3);
    }

    #[test]
    fn syntax_errors_say_where_what_and_the_fix() {
        assert_eq!(
            err("vrrp_instance VI_1 {\n  priority 100\n"),
            "k.conf:1: this block is never closed\n  fix: add the missing `}`"
        );
        assert_eq!(
            err("}\n"),
            "k.conf:1: `}` closes no open block\n  fix: remove the extra `}` or add the block it should close"
        );
        assert_eq!(
            err("vrrp_script c {\n  script \"pidof nginx\n}\n"),
            "k.conf:2: a quoted value has no closing `\"`\n  fix: close the quotes on the same line"
        );
        assert_eq!(
            err("vrrp_instance V {\n  priority 300\n}\n"),
            "k.conf:2: `priority 300`: a whole number from 1 to 255\n  fix: write a whole number from 1 to 255"
        );
        assert_eq!(
            err("vrrp_instance V {\n  virtual_ipaddress {\n    10.0.0.300/24\n  }\n}\n"),
            "k.conf:3: `virtual_ipaddress 10.0.0.300`: an IP address such as 172.20.128.2\n  fix: write an IP address such as 172.20.128.2"
        );
        assert_eq!(
            err("vrrp_instance\n"),
            "k.conf:1: `vrrp_instance` has no value\n  fix: write `vrrp_instance VI_1 {`"
        );
    }

    #[test]
    fn keepalived_preprocessor_lines_are_refused_with_the_line() {
        let want = "k.conf:2: keepalived's `$` variables and `@` per-host lines are not read by halab\n  fix: write the values out in one file per node";
        assert_eq!(err("vrrp_instance V {\n  @lb1 priority 200\n}\n"), want);
        assert_eq!(err("! prio\n$PRIO=200\n"), want);
    }

    #[test]
    fn nothing_in_garbage_input_panics() {
        for text in [
            "{",
            "}}}",
            "{{{{",
            "\"",
            "a { b { c } } }",
            "vrrp_instance {\n}",
            "\u{0}\u{feff}{ \"x",
        ] {
            let _ = parse(text, Path::new("k.conf"));
        }
        let deep = "x {\n".repeat(100);
        assert!(err(&deep).contains("nest deeper than 16"));
    }

    #[test]
    fn includes_are_read_relative_to_the_including_file_with_globs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/b.conf"),
            "vrrp_instance VI_B {\n  priority 20\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("conf.d/a.conf"),
            "vrrp_instance VI_A {\n  priority 10\n}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("conf.d/skip.txt"), "garbage {").unwrap();
        let main = dir.path().join("keepalived.conf");
        std::fs::write(&main, "include conf.d/*.conf\nvrrp_script s {\n}\n").unwrap();
        let c = load(&main).unwrap();
        let names: Vec<_> = c.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["VI_A", "VI_B"]);
        assert_eq!(
            c.instances[1].priority.as_ref().unwrap().at,
            Loc::new(dir.path().join("conf.d/b.conf"), 2)
        );
        assert_eq!(c.files.len(), 3);
        assert_eq!(c.scripts[0].at, Loc::new(&main, 2));
    }

    #[test]
    fn an_include_inside_a_block_adds_to_that_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("vips.conf"),
            "10.0.0.9/24 dev eth0 # the VIP\n",
        )
        .unwrap();
        let main = dir.path().join("keepalived.conf");
        std::fs::write(
            &main,
            "vrrp_instance V {\n  virtual_ipaddress {\n    include vips.conf\n  }\n}\n",
        )
        .unwrap();
        let c = load(&main).unwrap();
        let vip = &c.instances[0].vips[0];
        assert_eq!(
            (vip.addr.to_string(), vip.prefix),
            ("10.0.0.9".to_string(), Some(24))
        );
        assert_eq!(vip.at, Loc::new(dir.path().join("vips.conf"), 1));
    }

    #[test]
    fn include_cycles_and_missing_includes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.conf");
        let b = dir.path().join("b.conf");
        std::fs::write(&a, "include b.conf\n").unwrap();
        std::fs::write(&b, "\ninclude a.conf\n").unwrap();
        let e = load(&a).unwrap_err();
        assert!(matches!(e, ConfError::IncludeCycle { .. }), "{e}");
        assert!(
            e.to_string().starts_with(&format!(
                "{}:2: `{}` includes itself",
                b.display(),
                a.display()
            )),
            "{e}"
        );
        std::fs::write(&a, "include nope.conf\n").unwrap();
        assert_eq!(
            load(&a).unwrap_err().to_string(),
            format!("{}:1: `include nope.conf`: no such file\n  fix: correct the path (it is relative to the including file's folder)", a.display())
        );
        // A glob that matches nothing is fine, as in keepalived.
        std::fs::write(&a, "include none/*.conf\n").unwrap();
        assert!(load(&a).unwrap().instances.is_empty());
    }

    #[test]
    fn include_depth_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..12 {
            std::fs::write(
                dir.path().join(format!("{i}.conf")),
                format!("include {}.conf\n", i + 1),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("12.conf"), "").unwrap();
        let e = load(&dir.path().join("0.conf")).unwrap_err();
        assert!(matches!(e, ConfError::IncludeDepth { limit: 8, .. }), "{e}");
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.conf");
        std::fs::write(
            &f,
            vec![b'#'; (crate::userconf::MAX_FILE_BYTES + 1) as usize],
        )
        .unwrap();
        assert!(matches!(load(&f).unwrap_err(), ConfError::TooLarge { .. }));
    }

    #[test]
    fn wildcards_match_like_the_shell() {
        assert!(wild_match("*.conf", "a.conf"));
        assert!(!wild_match("*.conf", "a.conf.bak"));
        assert!(wild_match("n?de[0-9].c*", "node1.conf"));
        assert!(!wild_match("[!a]*", "abc"));
        assert!(wild_match("[", "["));
    }
}
