//! One self-contained HTML page: the summary table, then per run its checks
//! and an inline SVG timeline (probe answers, fault/heal, the switch budget,
//! one VIP-ownership lane per node, VRRP state changes). No script, no
//! external asset: the page can be attached to a CI run and opened offline.
//!
//! The geometry is computed here and the template only places it, so the
//! drawing is tested in Rust and the markup stays readable.

use serde::Serialize;
use tera::{Context, Tera};

use super::{
    disruption_cell, dual_cell, measure_text, recovery_cell, status_word, switch_cell,
    warnings_count, worst_cell, ReportError,
};
use crate::store::RunRecord;
use crate::timeline::{EventKind, Micros, Outcome, VrrpState};
use crate::verdict::{fmt_micros, fmt_offset};

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");

// Layout of one timeline, in SVG user units.
const WIDTH: f64 = 960.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 16.0;
// Two rows of marker labels above the probe panel.
const TOP: f64 = 34.0;
const LABEL_ROW_H: f64 = 12.0;
/// Width of one character of a 10 px label, a little generous: labels are
/// laid out before any browser measures them.
const CHAR_W: f64 = 5.8;
const PROBE_H: f64 = 110.0;
const LANE_H: f64 = 16.0;
const LANE_GAP: f64 = 8.0;
const AXIS_H: f64 = 26.0;

#[derive(Serialize)]
struct Page {
    title: String,
    runs: Vec<HtmlRun>,
    passed: usize,
    /// Runs with at least one warning.
    warned: usize,
    total: usize,
}

#[derive(Serialize)]
struct HtmlRun {
    id: String,
    scenario: String,
    lab: String,
    lab_file: String,
    started_at: String,
    status: &'static str,
    status_class: String,
    switch: String,
    disruption: String,
    worst: String,
    dual: String,
    recovery: String,
    story: String,
    reasons: Vec<String>,
    notes: Vec<String>,
    /// "1 warning", shown as a badge beside the status; empty for none.
    warning_badge: String,
    warnings: Vec<HtmlWarning>,
    checks: Vec<HtmlCheck>,
    svg: Svg,
}

#[derive(Serialize)]
struct HtmlWarning {
    kind: String,
    detail: String,
    unjudged: String,
}

#[derive(Serialize)]
struct HtmlCheck {
    name: String,
    measured: String,
    budget: String,
    passed: bool,
    detail: String,
}

/// Numbers are written with one decimal so the page is compact and stable.
fn n(x: f64) -> String {
    format!("{x:.1}")
}

#[derive(Serialize)]
struct Svg {
    width: String,
    height: String,
    left: String,
    right: String,
    probe_top: String,
    probe_bottom: String,
    bottom: String,
    plot_w: String,
    probe_h: String,
    span_h: String,
    marker_y1: String,
    axis_y2: String,
    axis_label_y: String,
    label1_y: String,
    label2_y: String,
    late_y: Option<String>,
    late_label_x: String,
    late_label_y: String,
    late_label: String,
    y_max_label: String,
    marks: Vec<Mark>,
    markers: Vec<Marker>,
    lanes: Vec<Lane>,
    dual: Vec<Bar>,
    axis: Vec<AxisTick>,
}

#[derive(Serialize)]
struct Mark {
    x: String,
    y: String,
    class: &'static str,
    title: String,
}

#[derive(Serialize)]
struct Marker {
    x: String,
    class: &'static str,
    label: String,
    anchor: &'static str,
    label_x: String,
    label_y: String,
    /// False when the instant lies past the end of the run: only the label
    /// is drawn, at the right edge, with an arrow.
    line: bool,
}

/// A marker before its label is placed.
struct MarkerAt {
    x: f64,
    class: &'static str,
    label: String,
    /// Preferred side of the line for the label.
    end: bool,
    line: bool,
}

/// Place every marker's label on one of two rows so that no two overlap
/// (fault, switch, budget and heal can fall within a few pixels of each
/// other), keeping each label inside the drawing and, where it can, off
/// the other markers' lines.
fn place_labels(mut ms: Vec<MarkerAt>) -> Vec<Marker> {
    ms.sort_by(|a, b| a.x.total_cmp(&b.x));
    let xs: Vec<f64> = ms.iter().map(|m| m.x).collect();
    // Right end of the last label on each row.
    let mut row_end = [f64::NEG_INFINITY; 2];
    ms.into_iter()
        .map(|m| {
            let w = m.label.chars().count() as f64 * CHAR_W;
            let extent = |end: bool| if end { (m.x - w, m.x) } else { (m.x, m.x + w) };
            let inside = |(a, b): (f64, f64)| a >= 2.0 && b <= WIDTH - 2.0;
            let clear =
                |(a, b): (f64, f64)| !xs.iter().any(|&x| x != m.x && x > a - 2.0 && x < b + 2.0);
            let row_for = |(a, _): (f64, f64)| (0..2).find(|&r| a >= row_end[r] + 4.0);
            let sides = [m.end, !m.end];
            let fitting = |want_clear: bool| {
                sides.iter().find_map(|&e| {
                    let ext = extent(e);
                    (inside(ext) && (!want_clear || clear(ext)))
                        .then(|| row_for(ext).map(|r| (e, r)))
                        .flatten()
                })
            };
            let (end, row) = fitting(true).or_else(|| fitting(false)).unwrap_or_else(|| {
                // Crowded: overlap on the row that ends first.
                let e = *sides.iter().find(|&&e| inside(extent(e))).unwrap_or(&m.end);
                (e, usize::from(row_end[1] < row_end[0]))
            });
            row_end[row] = extent(end).1;
            Marker {
                x: n(m.x),
                class: m.class,
                label: m.label,
                anchor: if end { "end" } else { "start" },
                label_x: n(if end { m.x - 2.0 } else { m.x + 2.0 }),
                label_y: n(TOP - 6.0 - row as f64 * LABEL_ROW_H),
                line: m.line,
            }
        })
        .collect()
}

#[derive(Serialize)]
struct Lane {
    name: String,
    y: String,
    h: String,
    label_y: String,
    tick_y1: String,
    tick_y2: String,
    class: &'static str,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
}

impl Lane {
    /// The lane whose top is at `y`.
    fn at(name: String, y: f64, class: &'static str, bars: Vec<Bar>, ticks: Vec<Tick>) -> Lane {
        Lane {
            name,
            y: n(y),
            h: n(LANE_H),
            label_y: n(y + LANE_H - 4.0),
            tick_y1: n(y - 3.0),
            tick_y2: n(y + LANE_H + 3.0),
            class,
            bars,
            ticks,
        }
    }

    /// A bar from `from` to `to` on `sc`.
    fn bar(sc: &Scale, from: Micros, to: Micros, title: String) -> Bar {
        Bar {
            x: n(sc.x(from)),
            w: n((sc.x(to) - sc.x(from)).max(1.0)),
            title,
        }
    }
}

#[derive(Serialize)]
struct Bar {
    x: String,
    w: String,
    title: String,
}

#[derive(Serialize)]
struct Tick {
    x: String,
    letter_x: String,
    class: &'static str,
    letter: &'static str,
    title: String,
}

#[derive(Serialize)]
struct AxisTick {
    x: String,
    label: String,
}

/// Maps run-clock times to x positions. A stored run is input like any
/// file: its times may lie anywhere on the clock (up to `Micros::MAX`), so
/// the scale keeps `t0 ≤ t1` and no time arithmetic here can overflow.
struct Scale {
    t0: Micros,
    t1: Micros,
}

impl Scale {
    fn new(t0: Micros, t1: Micros) -> Scale {
        Scale { t0, t1: t1.max(t0) }
    }

    fn x(&self, t: Micros) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        let t = t.clamp(self.t0, self.t1);
        LEFT + (t - self.t0) as f64 / span * (WIDTH - LEFT - RIGHT)
    }
}

/// `t − origin`, signed, saturated to what `fmt_offset` takes.
fn offset(t: Micros, origin: Micros) -> i64 {
    (i128::from(t) - i128::from(origin)).clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

/// A round step (1, 2 or 5 × 10^k µs) giving about eight ticks.
fn nice_step(span: Micros) -> Micros {
    let raw = (span / 8).max(1);
    let mut p = 1u64;
    while p * 10 <= raw {
        p *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10 * p)
}

fn svg(run: &RunRecord) -> Svg {
    let tl = &run.timeline;
    let m = &run.verdict.metrics;
    let t0 = tl
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Request(r) => r.sent.min(e.at),
            _ => e.at,
        })
        .min()
        .unwrap_or(0);
    let sc = Scale::new(t0, m.end_at.max(t0.saturating_add(1)));
    let t1 = sc.t1;
    let origin = m.fault_at.unwrap_or(t0);
    let late_after = Micros::try_from(run.spec.late_after.as_micros()).unwrap_or(Micros::MAX);

    // Probe panel: x = send time, y = latency (timeouts at the top).
    let y_max = tl
        .requests()
        .map(|r| r.done.saturating_sub(r.sent))
        .max()
        .unwrap_or(0)
        .max(late_after.saturating_mul(2))
        .max(1);
    let probe_top = TOP;
    let probe_bottom = TOP + PROBE_H;
    let y = |lat: Micros| probe_bottom - (lat.min(y_max) as f64 / y_max as f64) * (PROBE_H - 4.0);
    let master = run.spec.master.as_str();
    let marks = tl
        .requests()
        .map(|r| {
            let lat = r.done.saturating_sub(r.sent);
            let class = match &r.outcome {
                Outcome::Page { .. } if lat > late_after => "late",
                Outcome::Page { node } if node == master => "master",
                Outcome::Page { node } if run.spec.backups.contains(node) => "backup",
                _ => "error",
            };
            let what = match &r.outcome {
                Outcome::Page { node } => format!("{node}'s page"),
                Outcome::UnknownPage => "an unknown page".into(),
                Outcome::Http { status } => format!("HTTP {status}"),
                Outcome::Connect { error } => format!("connection failed: {error}"),
                Outcome::Timeout => "timeout".into(),
            };
            Mark {
                x: n(sc.x(r.sent)),
                y: n(y(lat)),
                class,
                title: format!(
                    "#{} sent {}, {} after {}",
                    r.seq,
                    fmt_offset(offset(r.sent, origin)),
                    what,
                    fmt_micros(lat)
                ),
            }
        })
        .collect();

    // VIP lanes, master first, then any node seen in the timeline.
    let mut nodes: Vec<String> = run.spec.nodes().iter().map(|s| s.to_string()).collect();
    for e in &tl.events {
        let node = match &e.kind {
            EventKind::Vip { node, .. }
            | EventKind::Vrrp { node, .. }
            | EventKind::WatchStart { node } => node,
            _ => continue,
        };
        if !nodes.contains(node) {
            nodes.push(node.clone());
        }
    }
    let lanes_top = probe_bottom + 14.0;
    let mut lanes: Vec<Lane> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let ly = lanes_top + i as f64 * (LANE_H + LANE_GAP);
            let mut bars = Vec::new();
            let mut since: Option<Micros> = None;
            let close = |from: Micros, to: Micros, bars: &mut Vec<Bar>| {
                bars.push(Lane::bar(
                    &sc,
                    from,
                    to,
                    format!(
                        "{node} held the VIP from {} to {} ({})",
                        fmt_offset(offset(from, origin)),
                        fmt_offset(offset(to, origin)),
                        fmt_micros(to.saturating_sub(from))
                    ),
                ))
            };
            let mut ticks = Vec::new();
            for e in &tl.events {
                match &e.kind {
                    EventKind::Vip { node: v, holds } if v == node => match (holds, since) {
                        (true, None) => since = Some(e.at),
                        (false, Some(s)) => {
                            close(s, e.at, &mut bars);
                            since = None;
                        }
                        _ => {}
                    },
                    EventKind::Vrrp { node: v, state } if v == node => {
                        let (class, letter, word) = match state {
                            VrrpState::Init => ("init", "I", "INIT"),
                            VrrpState::Backup => ("backup", "B", "BACKUP"),
                            VrrpState::Master => ("master", "M", "MASTER"),
                            VrrpState::Fault => ("fault", "F", "FAULT"),
                            VrrpState::Stop => ("stop", "S", "STOP"),
                        };
                        ticks.push(Tick {
                            x: n(sc.x(e.at)),
                            letter_x: n(sc.x(e.at) + 2.0),
                            class,
                            letter,
                            title: format!(
                                "{node} entered {word} at {}",
                                fmt_offset(offset(e.at, origin))
                            ),
                        });
                    }
                    _ => {}
                }
            }
            if let Some(s) = since {
                close(s, t1, &mut bars);
            }
            let class = if node == master { "master" } else { "backup" };
            Lane::at(node.clone(), ly, class, bars, ticks)
        })
        .collect();
    let pool_top = lanes_top + lanes.len() as f64 * (LANE_H + LANE_GAP);
    lanes.extend(pool_lanes(run, &nodes, pool_top, &sc, origin));
    let lanes_bottom = lanes_top + lanes.len() as f64 * (LANE_H + LANE_GAP);

    let dual = m
        .dual_owner
        .iter()
        .map(|s| Bar {
            x: n(sc.x(s.start)),
            w: n((sc.x(s.end) - sc.x(s.start)).max(1.0)),
            title: format!(
                "two owners of the VIP from {} for {}",
                fmt_offset(offset(s.start, origin)),
                fmt_micros(s.len())
            ),
        })
        .collect();

    let mut markers = Vec::new();
    if let Some(f) = m.fault_at {
        markers.push(MarkerAt {
            x: sc.x(f),
            class: "fault",
            label: "fault".into(),
            end: true,
            line: true,
        });
        if let Some(b) = run.spec.budget.switch_within {
            let b = Micros::try_from(b.as_micros()).unwrap_or(Micros::MAX);
            // A budget past the end of the run would be drawn on the right
            // edge as if it ended there: say where it is instead.
            let within = f.saturating_add(b) <= t1;
            markers.push(MarkerAt {
                x: sc.x(f.saturating_add(b)),
                class: "budget",
                label: if within {
                    format!("switch budget {}", fmt_micros(b))
                } else {
                    format!("switch budget {} →", fmt_micros(b))
                },
                end: !within,
                line: within,
            });
        }
        if let Some(s) = m.switch {
            markers.push(MarkerAt {
                x: sc.x(f.saturating_add(s)),
                class: "switch",
                label: format!("switch {}", fmt_offset(offset(s, 0))),
                end: false,
                line: true,
            });
        }
    }
    if let Some(h) = m.heal_at {
        markers.push(MarkerAt {
            x: sc.x(h),
            class: "heal",
            label: "heal".into(),
            end: false,
            line: true,
        });
    }
    let markers = place_labels(markers);

    // Ticks at whole steps from the origin, in i128: origin and ends may be
    // anywhere on the u64 clock.
    let step = i128::from(nice_step(t1 - t0));
    let first = (i128::from(t0) - i128::from(origin)).div_euclid(step) + 1;
    let axis = (first..)
        .map(|k| k * step)
        .take_while(|off| i128::from(origin) + off <= i128::from(t1))
        .map(|off| {
            let at = (i128::from(origin) + off).clamp(0, Micros::MAX.into()) as Micros;
            AxisTick {
                x: n(sc.x(at)),
                label: if off == 0 {
                    "0".into()
                } else {
                    fmt_offset(offset(at, origin))
                },
            }
        })
        .collect();

    let bottom = lanes_bottom + 2.0;
    Svg {
        width: n(WIDTH),
        height: n(bottom + AXIS_H),
        left: n(LEFT),
        right: n(WIDTH - RIGHT),
        probe_top: n(probe_top),
        probe_bottom: n(probe_bottom),
        bottom: n(bottom),
        plot_w: n(WIDTH - RIGHT - LEFT),
        probe_h: n(PROBE_H),
        span_h: n(bottom - probe_top),
        marker_y1: n(probe_top - 4.0),
        axis_y2: n(bottom + 4.0),
        axis_label_y: n(bottom + 15.0),
        label1_y: n(probe_top + 10.0),
        label2_y: n(probe_top + 22.0),
        late_y: (late_after < y_max).then(|| n(y(late_after))),
        late_label_x: n(WIDTH - RIGHT - 4.0),
        late_label_y: n(y(late_after) - 3.0),
        late_label: format!("late > {}", fmt_micros(late_after)),
        y_max_label: fmt_micros(y_max),
        marks,
        markers,
        lanes,
        dual,
        axis,
    }
}

/// One lane per load balancer and web server (the production shape),
/// filled while that LB's HAProxy has the server in its pool: in from the
/// start (HAProxy logs only changes), out from each DOWN line to the next
/// UP. None for a run without web servers.
fn pool_lanes(
    run: &RunRecord,
    nodes: &[String],
    top: f64,
    sc: &Scale,
    origin: Micros,
) -> Vec<Lane> {
    let m = &run.verdict.metrics;
    let mut servers: Vec<&str> = m.per_backend.keys().map(String::as_str).collect();
    servers.extend(m.pool.iter().map(|c| c.server.as_str()));
    servers.extend(run.spec.plan.backend.as_deref());
    servers.sort_unstable();
    servers.dedup();
    let mut lbs: Vec<&str> = nodes
        .iter()
        .map(String::as_str)
        .filter(|n| m.pool.iter().any(|c| c.lb == *n))
        .collect();
    if lbs.is_empty() && !servers.is_empty() {
        // No change was logged: every LB kept every server.
        lbs = nodes.iter().map(String::as_str).collect();
    }
    let pairs = lbs
        .iter()
        .flat_map(|lb| servers.iter().map(move |s| (*lb, *s)));
    pairs
        .enumerate()
        .map(|(i, (lb, server))| {
            let ly = top + i as f64 * (LANE_H + LANE_GAP);
            let mut bars = Vec::new();
            let mut ticks = Vec::new();
            let mut since = Some(sc.t0);
            let close = |from: Micros, to: Micros, bars: &mut Vec<Bar>| {
                bars.push(Lane::bar(
                    sc,
                    from,
                    to,
                    format!(
                        "{server} in {lb}'s pool from {} to {}",
                        fmt_offset(offset(from, origin)),
                        fmt_offset(offset(to, origin)),
                    ),
                ))
            };
            for c in m.pool.iter().filter(|c| c.lb == lb && c.server == server) {
                match (c.up, since) {
                    (false, Some(s)) => {
                        close(s, c.at, &mut bars);
                        since = None;
                    }
                    (true, None) => since = Some(c.at),
                    _ => {}
                }
                ticks.push(Tick {
                    x: n(sc.x(c.at)),
                    letter_x: n(sc.x(c.at) + 2.0),
                    class: if c.up { "master" } else { "fault" },
                    letter: if c.up { "U" } else { "D" },
                    title: format!(
                        "{lb}'s HAProxy marked {server} {} at {}: {}",
                        if c.up { "UP" } else { "DOWN" },
                        fmt_offset(offset(c.at, origin)),
                        c.reason
                    ),
                });
            }
            if let Some(s) = since {
                close(s, sc.t1, &mut bars);
            }
            Lane::at(format!("{lb} › {server}"), ly, "pool", bars, ticks)
        })
        .collect()
}

fn html_run(r: &RunRecord) -> HtmlRun {
    let v = &r.verdict;
    HtmlRun {
        id: r.id.clone(),
        scenario: r.scenario.to_string(),
        lab: r.lab.clone(),
        lab_file: r.lab_file.clone(),
        started_at: r.started_at.clone(),
        status: status_word(r),
        status_class: v.status.as_str().to_string(),
        switch: switch_cell(r),
        disruption: disruption_cell(r),
        worst: worst_cell(r),
        dual: dual_cell(r),
        recovery: recovery_cell(r),
        story: v.metrics.story(),
        reasons: v.reasons.clone(),
        notes: v.notes.clone(),
        warning_badge: warnings_count(r).unwrap_or_default(),
        warnings: v
            .warnings
            .iter()
            .map(|w| HtmlWarning {
                kind: w.kind.to_string(),
                detail: w.detail.clone(),
                unjudged: w.unjudged.clone(),
            })
            .collect(),
        checks: v
            .checks
            .iter()
            .map(|c| HtmlCheck {
                name: c.name.clone(),
                measured: measure_text(&c.measured),
                budget: measure_text(&c.budget),
                passed: c.passed,
                detail: c.detail.clone(),
            })
            .collect(),
        svg: svg(r),
    }
}

pub fn html(runs: &[RunRecord]) -> Result<String, ReportError> {
    let page = Page {
        title: format!(
            "halab report: {} run{}",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        ),
        passed: runs
            .iter()
            .filter(|r| r.verdict.status == crate::verdict::Status::Pass)
            .count(),
        warned: runs
            .iter()
            .filter(|r| !r.verdict.warnings.is_empty())
            .count(),
        total: runs.len(),
        runs: runs.iter().map(html_run).collect(),
    };
    let mut tera = Tera::default();
    // Registered as `.html` so Tera escapes every value.
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(ReportError::Template)?;
    let ctx = Context::from_serialize(&page).map_err(ReportError::Template)?;
    tera.render("report.html", &ctx)
        .map_err(ReportError::Template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{runs, warned};

    #[test]
    fn one_timeline_per_run_and_nothing_external() {
        let runs = runs();
        let page = html(&runs).unwrap();
        assert_eq!(page.matches("<svg class=\"timeline\"").count(), runs.len());
        for r in &runs {
            assert!(page.contains(&format!("data-run=\"{}\"", r.id)), "{}", r.id);
        }
        assert!(!page.contains("http://"), "no external reference");
        assert!(!page.contains("https://"), "no external reference");
        assert!(!page.contains("<script"), "no script needed");
        assert!(page.starts_with("<!DOCTYPE html>"));
        // Every probe request is a mark; the VIP lanes and markers are drawn.
        let requests: usize = runs.iter().map(|r| r.timeline.requests().count()).sum();
        assert_eq!(page.matches("<circle class=\"mark ").count(), requests);
        assert_eq!(page.matches("class=\"lane-label\"").count(), 2 * runs.len());
        assert!(page.contains("class=\"marker fault\""));
        assert!(page.contains("class=\"marker heal\""));
        assert!(page.contains("class=\"marker budget\""));
        assert!(page.contains(">switch budget 2.15 s<"));
        assert!(page.contains("nginx_slave entered MASTER at +64 ms"));
    }

    #[test]
    fn a_warning_is_a_badge_and_a_line_and_its_window_is_shaded() {
        let w = warned();
        let page = html(&w).unwrap();
        // In the summary and in each run's heading.
        assert_eq!(
            page.matches("<span class=\"status warning\">2 warnings</span>")
                .count(),
            4
        );
        assert!(
            page.contains("<p>1 of 2 passed; 2 with warnings.</p>"),
            "{page}"
        );
        assert!(page.contains(
            "<li data-kind=\"dual_owner\"><strong>split brain: two nodes held the VIP for 16 ms</strong> — not judged: partition-master has no max_dual_owner budget"
        ));
        assert_eq!(page.matches("<rect class=\"dual\"").count(), 2);
        // A run without warnings has no badge.
        let mut clean = runs().remove(0);
        clean.verdict.warnings.clear();
        let clean = html(&[clean]).unwrap();
        assert!(!clean.contains("status warning\">"), "{clean}");
    }

    #[test]
    fn an_lb_pair_run_has_a_pool_lane_per_lb_and_web_server() {
        let run = crate::report::tests::lb_run();
        let s = svg(&run);
        let names: Vec<&str> = s.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lb1",
                "lb2",
                "lb1 › web1",
                "lb1 › web2",
                "lb1 › web3",
                "lb2 › web1",
                "lb2 › web2",
                "lb2 › web3"
            ]
        );
        // web1 in lb1's pool until +230 ms, out until 400 ms after the heal.
        let web1 = &s.lanes[2];
        assert_eq!(web1.bars.len(), 2);
        assert_eq!(web1.ticks.len(), 2);
        assert!(
            web1.ticks[0]
                .title
                .ends_with("DOWN at +230 ms: Layer4 timeout"),
            "{}",
            web1.ticks[0].title
        );
        assert_eq!(s.lanes[3].bars.len(), 1, "web2 never left");
        let page = html(&[run]).unwrap();
        assert!(page.contains("lb1 › web1"));
    }

    #[test]
    fn values_are_escaped() {
        let mut runs = runs();
        runs[0].lab = "<b>lab</b>".into();
        let page = html(&runs[..1]).unwrap();
        assert!(!page.contains("<b>lab</b>"));
        assert!(page.contains("&lt;b&gt;lab&lt;&#x2F;b&gt;"));
    }

    #[test]
    fn geometry_follows_the_clock() {
        let runs = runs();
        let s = svg(&runs[0]);
        // The fault is at 1 s of 5.582 s, drawn on [LEFT, WIDTH − RIGHT].
        assert_eq!(runs[0].verdict.metrics.end_at, 5_582_000);
        let fault = s.markers.iter().find(|m| m.class == "fault").unwrap();
        let expected = LEFT + 1.0 / 5.582 * (WIDTH - LEFT - RIGHT);
        assert!((fault.x.parse::<f64>().unwrap() - expected).abs() < 0.1);
        // The backup's lane has one bar: from +64 ms to the end.
        assert_eq!(s.lanes[1].name, "nginx_slave");
        assert_eq!(s.lanes[1].bars.len(), 1);
        assert_eq!(s.dual.len(), 1, "16 ms of dual ownership");
        assert!(s.axis.iter().any(|t| t.label == "0"));
        assert_eq!(nice_step(5_600_000), 1_000_000);
        assert_eq!(nice_step(90_000), 20_000);
    }

    fn at(x: f64, class: &'static str, label: &str, end: bool) -> MarkerAt {
        MarkerAt {
            x,
            class,
            label: label.into(),
            end,
            line: true,
        }
    }

    /// Left and right end of a placed label, and its row's y.
    fn extent(m: &Marker) -> (f64, f64, String) {
        let x: f64 = m.label_x.parse().unwrap();
        let w = m.label.chars().count() as f64 * CHAR_W;
        match m.anchor {
            "end" => (x - w, x, m.label_y.clone()),
            _ => (x, x + w, m.label_y.clone()),
        }
    }

    #[test]
    fn marker_labels_never_overlap_and_stay_inside() {
        // Switch and heal 8 px apart (the kill-master case seen in Chromium),
        // a budget near the right edge, the fault near the left.
        let placed = place_labels(vec![
            at(700.0, "heal", "heal", false),
            at(692.0, "switch", "switch +3.30 s", false),
            at(650.0, "budget", "switch budget 3.00 s", false),
            at(124.0, "fault", "fault", true),
            at(WIDTH - RIGHT, "budget", "switch budget 8.00 s →", true),
        ]);
        assert_eq!(placed.len(), 5);
        for (i, a) in placed.iter().enumerate() {
            let (a0, a1, ay) = extent(a);
            assert!(
                a0 >= 2.0 && a1 <= WIDTH - 2.0,
                "{} outside: {a0}..{a1}",
                a.label
            );
            for b in &placed[i + 1..] {
                let (b0, b1, by) = extent(b);
                assert!(
                    ay != by || a1 + 4.0 <= b0 || b1 + 4.0 <= a0,
                    "`{}` and `{}` overlap",
                    a.label,
                    b.label
                );
            }
        }
        // Near the right edge a label goes to the left of its line.
        let edge = place_labels(vec![at(900.0, "switch", "switch +3.30 s", false)]);
        assert_eq!(edge[0].anchor, "end");
    }

    #[test]
    fn a_budget_past_the_end_is_a_label_without_a_line() {
        let mut runs = runs();
        runs[0].spec.budget.switch_within = Some(std::time::Duration::from_secs(60));
        let s = svg(&runs[0]);
        let budget = s.markers.iter().find(|m| m.class == "budget").unwrap();
        assert!(!budget.line);
        assert_eq!(budget.label, "switch budget 60.00 s →");
        assert_eq!(budget.anchor, "end");
        let page = html(&runs[..1]).unwrap();
        assert!(!page.contains("class=\"marker budget\""));
        assert!(page.contains("switch budget 60.00 s →"));
    }

    /// A stored run is input: a run whose only event lies at the end of
    /// the clock, or whose metrics point anywhere, still draws.
    #[test]
    fn extreme_times_in_a_stored_run_draw_without_panicking() {
        use crate::timeline::{Event, EventKind};
        let base = runs().remove(0);
        let extremes = [
            0,
            1,
            i64::MAX as Micros,
            i64::MAX as Micros + 1,
            Micros::MAX,
        ];
        for &at in &extremes {
            for &end_at in &extremes {
                let mut r = base.clone();
                r.timeline.events = vec![Event {
                    at,
                    kind: EventKind::Vip {
                        node: "nginx_master".into(),
                        holds: true,
                    },
                }];
                let m = &mut r.verdict.metrics;
                m.end_at = end_at;
                m.fault_at = Some(at);
                m.heal_at = Some(end_at);
                m.switch = Some(end_at);
                m.dual_owner = vec![crate::verdict::Span {
                    start: end_at,
                    end: at,
                }];
                r.spec.budget.switch_within = Some(std::time::Duration::MAX);
                r.spec.late_after = std::time::Duration::MAX;
                let page = html(std::slice::from_ref(&r)).unwrap();
                assert_eq!(page.matches("<svg class=\"timeline\"").count(), 1);
                assert!(
                    page.contains("nginx_master held the VIP from"),
                    "{at} {end_at}"
                );
            }
        }
    }

    #[test]
    fn empty_report_renders() {
        let page = html(&[]).unwrap();
        assert!(page.contains("no runs"));
        assert!(!page.contains("<svg"));
    }
}
