//! `halab sweep`: one scenario over a grid of lab settings. The grid is read
//! from `--set KEY=V1,V2,…` (a dotted path into the lab file, as
//! `docs/lab-format.md` names its fields); each point is the lab file with
//! those values written in, validated like any lab file, and run on its own
//! copy of the lab. The point's values are stored in every run's spec, so
//! `halab report` can draw the failover curve from the stored runs alone.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::lab::{self, Lab};

/// One varied setting and its values, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// The values of every axis at one grid point.
pub type Point = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    #[error("`--set {item}` is not KEY=V1,V2,…\n  fix: e.g. `--set vrrp.advert_int=20ms,50ms`")]
    Shape { item: String },
    #[error("`{key}` is set twice\n  fix: give each setting once, its values separated by commas")]
    Twice { key: String },
    #[error("`{key}`: the lab file has no mapping at `{at}`\n  fix: name a field of the lab file (see docs/lab-format.md), e.g. `vrrp.advert_int`")]
    Path { key: String, at: String },
    #[error("the lab file is not YAML the sweep can edit: {0}")]
    Yaml(String),
    #[error("a sweep needs at least one `--set KEY=V1,V2,…`")]
    Empty,
}

/// The axes of `--set` items.
pub fn axes(items: &[String]) -> Result<Vec<Axis>, SweepError> {
    let mut out: Vec<Axis> = Vec::new();
    for item in items {
        let shape = || SweepError::Shape { item: item.clone() };
        let (key, values) = item.split_once('=').ok_or_else(shape)?;
        let key = key.trim();
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if key.is_empty() || values.iter().any(String::is_empty) {
            return Err(shape());
        }
        if out.iter().any(|a| a.key == key) {
            return Err(SweepError::Twice {
                key: key.to_string(),
            });
        }
        out.push(Axis {
            key: key.to_string(),
            values,
        });
    }
    if out.is_empty() {
        return Err(SweepError::Empty);
    }
    Ok(out)
}

/// Every point of the grid, the first axis varying slowest.
pub fn points(axes: &[Axis]) -> Vec<Point> {
    axes.iter().fold(vec![Point::new()], |acc, axis| {
        acc.iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.insert(axis.key.clone(), v.clone());
                    p
                })
            })
            .collect()
    })
}

/// The lab file `text` with `point`'s values written in (each value read
/// as YAML: `20ms` a string, `3` a number, `true` a flag).
pub fn lab_at(text: &str, point: &Point) -> Result<String, SweepError> {
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| SweepError::Yaml(e.to_string()))?;
    for (key, value) in point {
        let parts: Vec<&str> = key.split('.').collect();
        let (last, parents) = parts.split_last().expect("split yields one part");
        let mut at = &mut doc;
        for (i, part) in parents.iter().enumerate() {
            let map = at.as_mapping_mut().ok_or_else(|| SweepError::Path {
                key: key.clone(),
                at: parts[..i].join("."),
            })?;
            at = map
                .entry(serde_yaml::Value::String(part.to_string()))
                .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
        }
        let map = at.as_mapping_mut().ok_or_else(|| SweepError::Path {
            key: key.clone(),
            at: parents.join("."),
        })?;
        let value: serde_yaml::Value = serde_yaml::from_str(value)
            .unwrap_or_else(|_| serde_yaml::Value::String(value.clone()));
        map.insert(serde_yaml::Value::String(last.to_string()), value);
    }
    serde_yaml::to_string(&doc).map_err(|e| SweepError::Yaml(e.to_string()))
}

/// The text of the lab `--lab` names, to edit per point: a shipped lab's
/// from the binary, a file's from disk with the lab reader's bound.
pub fn lab_text(arg: &Path) -> anyhow::Result<String> {
    Ok(crate::lab::text(arg)?)
}

/// Point `point` as its own copy of `base` (whose file is `text`, read
/// from `source`): the values written in, named `<lab>-p<index>`, on the
/// lab's port + `index` (so copies never meet the lab or each other), and
/// validated like any lab file (the caller names the point in its
/// errors). Sweep and tune make every copy here.
pub fn copy_at(
    base: &Lab,
    text: &str,
    source: &Path,
    subnet: Option<ipnet::Ipv4Net>,
    index: usize,
    point: &Point,
) -> anyhow::Result<Lab> {
    let port = u16::try_from(index)
        .ok()
        .and_then(|n| base.spec().proxy.port.checked_add(n))
        .with_context(|| format!("no port left above {}", base.spec().proxy.port))?;
    let overrides = lab::Overrides {
        name: Some(format!("{}-p{index}", base.name())),
        port: Some(port),
        subnet,
    };
    Ok(Lab::from_yaml_with(
        &lab_at(text, point)?,
        source,
        &overrides,
    )?)
}

/// `key=value key=value`, as the output names a point.
pub fn show(point: &Point) -> String {
    let shown: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_lab_text_to_edit_is_read_with_the_lab_files_bound() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        let line = format!("# {}\n", "x".repeat(1023));
        std::fs::write(
            &big,
            line.repeat(crate::lab::MAX_LAB_BYTES as usize / 1024 + 1),
        )
        .unwrap();
        let err = lab_text(&big).unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<crate::lab::LabError>(),
                Some(crate::lab::LabError::TooLarge { .. })
            ),
            "{err:#}"
        );
        assert!(lab_text(Path::new("fast-failover"))
            .unwrap()
            .contains("advert_int"));
    }

    #[test]
    fn a_two_by_two_grid_has_four_points_first_axis_slowest() {
        let a = axes(&[
            "vrrp.advert_int=20ms,100ms".into(),
            "proxy.timeouts.connect=20ms,100ms".into(),
        ])
        .unwrap();
        let p = points(&a);
        assert_eq!(p.len(), 4);
        assert_eq!(p[1]["vrrp.advert_int"], "20ms");
        assert_eq!(p[1]["proxy.timeouts.connect"], "100ms");
        assert_eq!(p[2]["vrrp.advert_int"], "100ms");
    }

    #[test]
    fn bad_grids_are_refused_with_the_fix() {
        let errors: Vec<String> = [
            vec!["vrrp.advert_int"],
            vec!["a=1,", "b=2"],
            vec!["a=1", "a=2"],
            vec![],
        ]
        .into_iter()
        .map(|items| {
            let items: Vec<String> = items.into_iter().map(String::from).collect();
            axes(&items).unwrap_err().to_string()
        })
        .collect();
        insta::assert_snapshot!(errors.join("\n---\n"));
    }

    #[test]
    fn a_point_is_written_into_the_lab_and_validated_as_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/fast-failover.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut point = Point::new();
        point.insert("vrrp.advert_int".into(), "50ms".into());
        point.insert("proxy.timeouts.connect".into(), "100ms".into());
        let lab = crate::lab::Lab::from_yaml(&lab_at(&text, &point).unwrap(), &path).unwrap();
        assert_eq!(
            lab.spec().vrrp.advert_int,
            std::time::Duration::from_millis(50)
        );
        assert_eq!(
            lab.spec().proxy.timeouts.connect,
            std::time::Duration::from_millis(100)
        );
        point.insert("vip.x".into(), "1".into());
        assert_eq!(
            lab_at(&text, &point).unwrap_err(),
            SweepError::Path {
                key: "vip.x".into(),
                at: "vip".into()
            }
        );
    }
}
