//! Property test of the lab file's whole way in: parse → validate → render
//! (and the values a valid lab hands on: master, budgets, proxy address,
//! page markers). Whatever the text, no panic and a bounded time per case.
//!
//! Inputs are the shipped labs mutated line by line with hostile values
//! (huge durations and numbers, empty values, brackets, control and
//! non-ASCII characters) and random YAML documents built from the lab's own
//! field names: 10,000 and 5,000 cases by default; `HALAB_FUZZ_CASES`
//! sets the number for each. (Debug build on the 2-core machine: ≈ 10 s.)

use std::path::Path;
use std::time::{Duration, Instant};

use halab::lab::{Lab, ScenarioName};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One case may take this long (debug build, shared 2-core machine); a
/// parse that goes quadratic takes seconds.
const CASE_DEADLINE: Duration = Duration::from_secs(2);

fn cases(default: u32) -> u32 {
    std::env::var("HALAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        // A failure is reported with its input; shrinking is a bonus.
        max_shrink_iters: 200,
        ..Config::default()
    })
}

const SHIPPED: [&str; 3] = [
    include_str!("../labs/nginx-keepalived.yaml"),
    include_str!("../labs/fast-failover.yaml"),
    include_str!("../labs/three-node.yaml"),
];

/// Values that have broken, or could break, a step after parsing.
const HOSTILE: &[&str] = &[
    "600000000years",
    "18446744073709552s",
    "99999999999999999999999years",
    "2147483648ms",
    "4295s",
    "0s",
    "1ns",
    "40951ms",
    "99999999999999999999",
    "4294967296",
    "-1",
    "0",
    "255",
    "65536",
    "1.5",
    "",
    "~",
    "[]",
    "{}",
    "[[[[[[",
    "'a\"}b'",
    "\"\\u0000\"",
    "background-color",
    "主机",
    "从机二",
    "0.0.0.0/0",
    "255.255.255.255",
    "172.20.0.1",
    "8.8.8.8/32",
    "10.0.0.0/31",
    "true",
    "MASTER",
    "BACKUP",
    "&a x",
    "*a",
    "!!binary aGk=",
];

/// An edit of one line of a lab: replace its value, drop it, repeat it, or
/// splice text into it.
#[derive(Debug, Clone)]
enum Edit {
    /// Line, which `key: value` of the line, a value shaped like the old.
    Shaped(usize, usize, usize),
    /// Line, which `key: value` of the line, new value.
    Value(usize, usize, String),
    Drop(usize),
    Repeat(usize),
    Splice(usize, usize, String),
}

/// Values of the right type and near the edges, so that a mutated lab
/// often parses and reaches validation and rendering: picked by the shape
/// of the value they replace.
const DURATIONS: &[&str] = &[
    "1s",
    "2s",
    "3s",
    "20ms",
    "100ms",
    "10ms",
    "15ms",
    "1m",
    "24days",
    "25days",
    "4294s",
    "4295s",
    "40950ms",
    "255s",
    "256s",
    "1h",
    "2h",
    "500us",
    "600000000years",
    "18446744073709552s",
    "2147483647ms",
    "2147483648ms",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "100",
    "200",
    "254",
    "255",
    "256",
    "253",
    "-253",
    "-254",
    "8000",
    "6301",
    "65535",
    "4294967295",
    "2147483648",
];
const OTHERS: &[&str] = &[
    "false",
    "true",
    "http",
    "pidof",
    "never",
    "always",
    "MASTER",
    "BACKUP",
    "172.20.128.5",
    "172.20.0.2",
    "172.20.0.1",
    "172.20.128.4/32",
    "172.20.0.0/24",
    "172.21.128.3",
    "letmein",
    "eth0",
    "A",
    "B",
    "主机",
    "从机二",
    "node",
    "background-color",
    "conn-failure",
    "none",
    "x",
    "proxy",
];

/// The pool of values shaped like `old`.
fn pool_for(old: &str) -> &'static [&'static str] {
    let old = old.trim();
    let digits = old
        .trim_start_matches('-')
        .chars()
        .take_while(char::is_ascii_digit)
        .count();
    if digits > 0 && digits == old.trim_start_matches('-').len() {
        NUMBERS
    } else if digits > 0 && old[digits..].chars().all(|c| c.is_ascii_alphabetic()) {
        DURATIONS
    } else {
        OTHERS
    }
}

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(HOSTILE).prop_map(String::from),
        1 => "[ -~]{0,12}",
        1 => "\\PC{0,6}",
        1 => (1u64..u64::MAX, proptest::sample::select(&["ms", "s", "m", "h", "d", "y", ""][..]))
            .prop_map(|(n, u)| format!("{n}{u}")),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        8 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(l, k, v)| Edit::Shaped(l, k, v)),
        2 => (any::<usize>(), any::<usize>(), hostile_value())
            .prop_map(|(l, k, v)| Edit::Value(l, k, v)),
        1 => any::<usize>().prop_map(Edit::Drop),
        1 => any::<usize>().prop_map(Edit::Repeat),
        1 => (any::<usize>(), any::<usize>(), "[ -~]{1,4}")
            .prop_map(|(l, at, s)| Edit::Splice(l, at, s)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match e {
            Edit::Value(l, k, v) => replace_value(&mut lines[l % n], *k, |_| v.clone()),
            Edit::Shaped(l, k, v) => replace_value(&mut lines[l % n], *k, |old| {
                let pool = pool_for(old);
                pool[v % pool.len()].to_string()
            }),
            Edit::Drop(l) => {
                lines.remove(l % n);
            }
            Edit::Repeat(l) => {
                let line = lines[l % n].clone();
                lines.insert(l % n, line);
            }
            Edit::Splice(l, at, s) => {
                let line = &mut lines[l % n];
                let mut at = at % (line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, s);
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Replaces the `k`-th value of a line (also inside `{ a: 1, b: 2 }`).
fn replace_value(line: &mut String, k: usize, new: impl FnOnce(&str) -> String) {
    let starts: Vec<usize> = line.match_indices(": ").map(|(i, _)| i + 2).collect();
    if starts.is_empty() {
        return;
    }
    let from = starts[k % starts.len()];
    let to = line[from..]
        .find([',', '}'])
        .map_or(line.len(), |i| from + i);
    let value = new(&line[from..to]);
    line.replace_range(from..to, &value);
}

/// Field names of the lab format, so random documents reach deep.
const KEYS: &[&str] = &[
    "name",
    "network",
    "subnet",
    "vip",
    "vrrp",
    "version",
    "advert_int",
    "virtual_router_id",
    "preempt",
    "auth_pass",
    "health_check",
    "interval",
    "fall",
    "rise",
    "weight",
    "kind",
    "nodes",
    "ip",
    "state",
    "priority",
    "page",
    "proxy",
    "timeouts",
    "connect",
    "server",
    "client",
    "check",
    "inter",
    "retries",
    "retry_on",
    "port",
    "listen",
    "probe",
    "timeout",
    "late_after",
    "scenarios",
    "kill-master",
    "observe",
    "switch_within",
    "image",
    "base",
];

#[derive(Debug, Clone)]
enum Doc {
    Scalar(String),
    List(Vec<Doc>),
    Map(Vec<(String, Doc)>),
}

fn doc() -> impl Strategy<Value = Doc> {
    let leaf = hostile_value().prop_map(Doc::Scalar);
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Doc::List),
            proptest::collection::vec(
                (proptest::sample::select(KEYS).prop_map(String::from), inner),
                0..8
            )
            .prop_map(Doc::Map),
        ]
    })
}

fn to_yaml(d: &Doc, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match d {
        Doc::Scalar(s) => {
            out.push(' ');
            out.push_str(s);
            out.push('\n');
        }
        Doc::List(items) if items.is_empty() => out.push_str(" []\n"),
        Doc::Map(items) if items.is_empty() => out.push_str(" {}\n"),
        Doc::List(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&format!("{pad}- x:"));
                to_yaml(item, indent + 4, out);
            }
        }
        Doc::Map(items) => {
            out.push('\n');
            for (k, v) in items {
                out.push_str(&format!("{pad}{k}:"));
                to_yaml(v, indent + 2, out);
            }
        }
    }
}

/// The whole way in, and what a valid lab hands downstream.
fn exercise(text: &str) {
    let started = Instant::now();
    if let Ok(lab) = Lab::from_yaml(text, Path::new("fuzz.yaml")) {
        let _ = lab.master();
        let _ = lab.backups();
        let _ = lab.proxy_ip();
        for s in ScenarioName::ALL {
            let _ = lab.budget(s);
        }
        let _ = halab::render::page_markers(&lab);
        let _ = halab::render::render(&lab, None);
    }
    let took = started.elapsed();
    assert!(took < CASE_DEADLINE, "one case took {took:?}:\n{text}");
}

#[test]
fn mutated_shipped_labs_never_panic_or_hang() {
    let strategy = (0..SHIPPED.len(), proptest::collection::vec(edit(), 1..5));
    runner(10_000)
        .run(&strategy, |(lab, edits)| {
            exercise(&apply(SHIPPED[lab], &edits));
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_yaml_documents_never_panic_or_hang() {
    runner(5_000)
        .run(&doc(), |d| {
            let mut text = String::new();
            to_yaml(&d, 0, &mut text);
            exercise(text.trim_start());
            Ok(())
        })
        .unwrap();
}

/// The reproductions of issue #12, each once, so a regression names itself.
#[test]
fn the_inputs_that_crashed_or_hung_before() {
    let seed = SHIPPED[0];
    for bad in [
        seed.replace("inter: 2s", "inter: 600000000years"),
        seed.replace("connect: 5s", "connect: 18446744073709552s"),
        format!(
            "name: x\nnodes: {}{}\n",
            "[".repeat(80_000),
            "]".repeat(80_000)
        ),
    ] {
        exercise(&bad);
        assert!(Lab::from_yaml(&bad, Path::new("fuzz.yaml")).is_err());
    }
}
