//! Failover curves of a sweep: for each lab setting a sweep varied (the
//! `point` in the stored specs), the switch time, the failed + late
//! requests and the worst answer against the setting's values, as the
//! median with min–max over every run at that value (the other settings'
//! values included). Drawn as a table (terminal, Markdown) and as SVG (HTML).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::lab::ScenarioName;
use crate::store::RunRecord;
use crate::verdict::fmt_micros;

/// What a curve plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Switch,
    Disrupted,
    Worst,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Switch, Metric::Disrupted, Metric::Worst];

    pub fn label(self) -> &'static str {
        match self {
            Metric::Switch => "switch",
            Metric::Disrupted => "failed + late",
            Metric::Worst => "worst answer",
        }
    }

    /// The run's value (µs for times, a count otherwise); none where the
    /// run has none (no switch seen).
    fn of(self, r: &RunRecord) -> Option<u64> {
        let m = &r.verdict.metrics;
        match self {
            Metric::Switch => m.switch,
            Metric::Disrupted => Some(u64::from(m.failed) + u64::from(m.late)),
            Metric::Worst => m.worst_answer,
        }
    }

    fn show(self, v: u64) -> String {
        match self {
            Metric::Disrupted => v.to_string(),
            _ => fmt_micros(v),
        }
    }
}

/// Median, min and max of one metric over the runs at one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub median: u64,
    pub min: u64,
    pub max: u64,
}

fn spread(mut v: Vec<u64>) -> Option<Spread> {
    v.sort_unstable();
    Some(Spread {
        // Nearest rank: the lower middle of an even count.
        median: *v.get(v.len().saturating_sub(1) / 2)?,
        min: *v.first()?,
        max: *v.last()?,
    })
}

/// One setting's values in a sweep of one scenario, and the runs at each.
pub struct Curve<'a> {
    pub scenario: ScenarioName,
    pub key: String,
    pub values: Vec<(String, Vec<&'a RunRecord>)>,
}

impl Curve<'_> {
    pub fn spread(&self, metric: Metric, at: usize) -> Option<Spread> {
        spread(
            self.values[at]
                .1
                .iter()
                .filter_map(|r| metric.of(r))
                .collect(),
        )
    }
}

/// Values in their natural order: as durations or numbers where they all
/// read as such, else as given.
fn sort_values(values: &mut [String]) {
    if values.iter().all(|v| humantime::parse_duration(v).is_ok()) {
        values.sort_by_key(|v| humantime::parse_duration(v).unwrap_or(Duration::ZERO));
    } else if values.iter().all(|v| v.parse::<f64>().is_ok()) {
        values.sort_by(|a, b| {
            let (a, b) = (a.parse::<f64>(), b.parse::<f64>());
            a.unwrap_or(0.0).total_cmp(&b.unwrap_or(0.0))
        });
    }
}

/// Every curve the runs make, by scenario then setting.
pub fn curves(runs: &[RunRecord]) -> Vec<Curve<'_>> {
    let mut by: BTreeMap<(ScenarioName, String), Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        for key in r.spec.point.keys() {
            by.entry((r.scenario, key.clone())).or_default().push(r);
        }
    }
    by.into_iter()
        .map(|((scenario, key), runs)| {
            let mut values: Vec<String> = runs.iter().map(|r| r.spec.point[&key].clone()).collect();
            values.dedup();
            values.sort();
            values.dedup();
            sort_values(&mut values);
            let values = values
                .into_iter()
                .map(|v| {
                    let at = runs
                        .iter()
                        .copied()
                        .filter(|r| r.spec.point[&key] == v)
                        .collect();
                    (v, at)
                })
                .collect();
            Curve {
                scenario,
                key,
                values,
            }
        })
        .collect()
}

fn cell(c: &Curve, m: Metric, at: usize) -> String {
    match c.spread(m, at) {
        Some(s) if s.min == s.max => m.show(s.median),
        Some(s) => format!("{} ({}–{})", m.show(s.median), m.show(s.min), m.show(s.max)),
        None => "none".to_string(),
    }
}

/// The curves as rows: setting, value, runs, then each metric.
fn rows(runs: &[RunRecord]) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    for c in curves(runs) {
        for (i, (value, at)) in c.values.iter().enumerate() {
            out.push([
                format!("{} {}", c.scenario, c.key),
                value.clone(),
                at.len().to_string(),
                cell(&c, Metric::Switch, i),
                cell(&c, Metric::Disrupted, i),
                cell(&c, Metric::Worst, i),
            ]);
        }
    }
    out
}

const HEADER: [&str; 6] = [
    "sweep",
    "value",
    "runs",
    "switch",
    "failed + late",
    "worst answer",
];

/// The terminal table of the curves, or nothing where no run is a sweep's.
pub fn table(runs: &[RunRecord]) -> Option<String> {
    let rows = rows(runs);
    if rows.is_empty() {
        return None;
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(HEADER.to_vec());
    for r in rows {
        t.add_row(r.to_vec());
    }
    Some(format!(
        "failover curves (median, min–max over the runs at each value):\n{t}"
    ))
}

pub fn markdown(runs: &[RunRecord]) -> Option<String> {
    let rows = rows(runs);
    if rows.is_empty() {
        return None;
    }
    let mut out =
        String::from("### Failover curves\n\nMedian (min–max) over the runs at each value.\n\n");
    out.push_str(&format!("| {} |\n", HEADER.join(" | ")));
    out.push_str("|---|---|--:|--:|--:|--:|\n");
    for r in rows {
        let r: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    Some(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One curve of one metric as SVG: the median joined by a line, a bar from
/// min to max at each value.
fn svg(c: &Curve, m: Metric) -> String {
    const W: f64 = 360.0;
    const H: f64 = 200.0;
    const L: f64 = 60.0;
    const B: f64 = 30.0;
    const T: f64 = 24.0;
    let n = c.values.len();
    let spreads: Vec<Option<Spread>> = (0..n).map(|i| c.spread(m, i)).collect();
    let top = spreads
        .iter()
        .flatten()
        .map(|s| s.max)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |i: usize| L + (W - L - 20.0) * (i as f64 + 0.5) / n.max(1) as f64;
    let y = |v: u64| T + (H - T - B) * (1.0 - v as f64 / top);
    let mut out = format!(
        "<svg class=\"curve\" data-metric=\"{}\" data-key=\"{}\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>{} of {} against {}</title>\
         <text x=\"{L}\" y=\"14\" font-size=\"12\">{}</text>\
         <line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{}\" stroke=\"#888\"/>\
         <line x1=\"{L}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">0</text>",
        m.label(),
        esc(&c.key),
        m.label(),
        c.scenario,
        esc(&c.key),
        esc(&format!("{} — {}", m.label(), c.key)),
        H - B,
        H - B,
        W - 10.0,
        H - B,
        L - 4.0,
        T + 4.0,
        esc(&m.show(top as u64)),
        L - 4.0,
        H - B,
    );
    let mut line = Vec::new();
    for (i, (value, _)) in c.values.iter().enumerate() {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            H - B + 14.0,
            esc(value)
        ));
        if let Some(s) = spreads[i] {
            out.push_str(&format!(
                "<line class=\"bar\" x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#36c\"/>\
                 <circle cx=\"{0:.1}\" cy=\"{3:.1}\" r=\"3\" fill=\"#36c\"><title>{4}: {5}</title></circle>",
                x(i),
                y(s.min),
                y(s.max),
                y(s.median),
                esc(value),
                esc(&cell(c, m, i)),
            ));
            line.push(format!("{:.1},{:.1}", x(i), y(s.median)));
        }
    }
    if line.len() > 1 {
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#36c\"/>",
            line.join(" ")
        ));
    }
    out.push_str("</svg>");
    out
}

/// The HTML section of the curves, or nothing where no run is a sweep's.
pub fn html(runs: &[RunRecord]) -> Option<String> {
    let curves = curves(runs);
    if curves.is_empty() {
        return None;
    }
    let mut out = String::from(
        "<section class=\"curves\"><h2>Failover curves</h2>\
         <p>Median (dot and line) and min–max (bar) over the runs at each value.</p>",
    );
    for c in &curves {
        out.push_str("<div class=\"curve-row\">");
        for m in Metric::ALL {
            out.push_str(&svg(c, m));
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::run;
    use crate::timeline::Micros;

    const MS: Micros = 1_000;

    /// Two settings × two values, one run each: switch time grows with
    /// the advert interval.
    fn sweep() -> Vec<RunRecord> {
        let mut out = Vec::new();
        for (i, (advert, connect, switch)) in [
            ("100ms", "20ms", 400),
            ("100ms", "100ms", 420),
            ("20ms", "20ms", 80),
            ("20ms", "100ms", 120),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = run(
                ScenarioName::KillMaster,
                1_795_611_901 + i as u64,
                switch * MS,
                "nginx_slave",
                0,
            );
            r.spec.point.insert("vrrp.advert_int".into(), advert.into());
            r.spec
                .point
                .insert("proxy.timeouts.connect".into(), connect.into());
            out.push(r);
        }
        out
    }

    #[test]
    fn a_two_by_two_sweep_makes_a_curve_per_setting_values_in_order() {
        let runs = sweep();
        let c = curves(&runs);
        assert_eq!(c.len(), 2);
        let advert = c.iter().find(|c| c.key == "vrrp.advert_int").unwrap();
        let values: Vec<&str> = advert.values.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, ["20ms", "100ms"], "as durations, not text");
        let (fast, slow) = (
            advert.spread(Metric::Switch, 0).unwrap(),
            advert.spread(Metric::Switch, 1).unwrap(),
        );
        assert!(
            fast.min < fast.max && fast.max < slow.min,
            "{fast:?} {slow:?}"
        );
        insta::assert_snapshot!(table(&runs).unwrap());
    }

    #[test]
    fn the_html_report_has_a_curve_per_metric_and_setting() {
        let runs = sweep();
        let page = crate::report::render(crate::report::Format::Html, &runs).unwrap();
        for m in Metric::ALL {
            let n = page
                .matches(&format!("class=\"curve\" data-metric=\"{}\"", m.label()))
                .count();
            assert_eq!(n, 2, "{}", m.label());
        }
        assert!(page.find("Failover curves").unwrap() < page.rfind("</body>").unwrap());
        // Runs of no sweep get no curve.
        let plain = crate::report::render(crate::report::Format::Html, &runs[..0]).unwrap();
        assert!(!plain.contains("Failover curves"));
        assert!(
            crate::report::render(crate::report::Format::Markdown, &runs)
                .unwrap()
                .contains("| kill-master vrrp.advert_int | 20ms | 2 |")
        );
    }
}
