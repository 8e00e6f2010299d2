//! The run store: one versioned JSON file per run under `.halab/runs/`.
//!
//! A stored run carries its whole timeline and verdict, so every report can
//! be made again from it long after the lab is gone. Files are written to a
//! temporary name in the same directory and renamed, so a reader never sees
//! half a run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::lab::{Budget, Lab, ScenarioName};
use crate::timeline::Timeline;
use crate::verdict::{Status, Verdict};

/// Version of the record layout written by this halab.
pub const FORMAT_VERSION: u32 = 1;

/// Where runs go when no directory is given.
pub const DEFAULT_DIR: &str = ".halab/runs";

/// Settings a run was made with, kept so a report can show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParams {
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub late_after: Duration,
    pub budget: Budget,
    /// Whether the fault was undone at the end of the observation.
    pub heal: bool,
    /// The node that started as MASTER, and the others: reports draw one
    /// VIP lane per node in this order.
    #[serde(default)]
    pub master: String,
    #[serde(default)]
    pub backups: Vec<String>,
}

impl RunParams {
    /// The lab's probe settings and the scenario's budget.
    pub fn for_lab(lab: &Lab, scenario: ScenarioName, heal: bool) -> RunParams {
        let probe = &lab.spec().probe;
        RunParams {
            interval: probe.interval,
            timeout: probe.timeout,
            late_after: probe.late_after,
            budget: lab.budget(scenario),
            heal,
            master: lab.master().name.clone(),
            backups: lab.backups().iter().map(|n| n.name.clone()).collect(),
        }
    }

    /// Every node, master first.
    pub fn nodes(&self) -> Vec<&str> {
        std::iter::once(self.master.as_str())
            .chain(self.backups.iter().map(String::as_str))
            .filter(|n| !n.is_empty())
            .collect()
    }
}

/// One scenario run, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format_version: u32,
    /// `20261125T130501Z-stop-master-<lab>`: sorts by start time.
    pub id: String,
    pub halab_version: String,
    pub lab: String,
    pub lab_file: String,
    pub scenario: ScenarioName,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub params: RunParams,
    pub timeline: Timeline,
    pub verdict: Verdict,
    pub aborted: bool,
}

impl RunRecord {
    /// A record of a run of `scenario` on `lab` that started at `started`.
    /// `aborted` follows the verdict's status.
    pub fn new(
        lab: &Lab,
        scenario: ScenarioName,
        params: RunParams,
        timeline: Timeline,
        verdict: Verdict,
        started: SystemTime,
    ) -> RunRecord {
        RunRecord {
            format_version: FORMAT_VERSION,
            id: run_id(started, scenario, lab.name()),
            halab_version: env!("CARGO_PKG_VERSION").to_string(),
            lab: lab.name().to_string(),
            lab_file: lab.source().display().to_string(),
            scenario,
            started_at: rfc3339(started),
            params,
            timeline,
            aborted: verdict.status == Status::Aborted,
            verdict,
        }
    }

    pub fn summary(&self, path: PathBuf) -> RunSummary {
        RunSummary {
            id: self.id.clone(),
            lab: self.lab.clone(),
            scenario: self.scenario,
            started_at: self.started_at.clone(),
            status: self.verdict.status,
            aborted: self.aborted,
            path,
        }
    }
}

/// `2026-11-25T13:05:01Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `20261125T130501Z-stop-master-<lab>`: the start time first, so ids sort
/// by start.
pub fn run_id(started: SystemTime, scenario: ScenarioName, lab: &str) -> String {
    let stamp: String = rfc3339(started)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{stamp}-{scenario}-{lab}")
}

/// What `list` shows of a run without handing out its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub lab: String,
    pub scenario: ScenarioName,
    pub started_at: String,
    pub status: Status,
    pub aborted: bool,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the run directory `{}`: {source}\n  fix: check the permissions, or pass another directory", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write run `{}`: {source}\n  fix: check free space and permissions of its directory", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run `{}` already exists; halab never overwrites a stored run\n  fix: give the new run another id (`Store::new_id` picks a free one)", path.display())]
    Exists { path: PathBuf },
    #[error("cannot read run `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list runs in `{}`: {source}\n  fix: run a scenario first (`halab chaos stop-master` or `halab test`), or pass the directory that holds the runs", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a halab run record: field `{field}`: {message}\n  fix: move the file out of the run directory", path.display())]
    Parse {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("`{}` was written by a newer halab (record format {found}, this halab reads up to {FORMAT_VERSION})\n  fix: read it with a newer halab", path.display())]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("no run `{id}` in `{}`{}\n  fix: `halab report --all --runs-dir {}` lists the stored runs", dir.display(), hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default(), dir.display())]
    NotFound {
        id: String,
        dir: PathBuf,
        hint: Option<String>,
    },
    #[error("no runs stored in `{}`\n  fix: run a scenario first (`halab chaos stop-master` or `halab test`)", dir.display())]
    Empty { dir: PathBuf },
}

/// A directory of stored runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    dir: PathBuf,
}

impl Default for Store {
    fn default() -> Self {
        Store::at(DEFAULT_DIR)
    }
}

impl Store {
    pub fn at(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a run with this id is stored in.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// [`run_id`], with `-2`, `-3`, … appended while the id is taken.
    pub fn new_id(&self, started: SystemTime, scenario: ScenarioName, lab: &str) -> String {
        self.free_id(&run_id(started, scenario, lab))
    }

    /// Give `record` an id no stored run has (two runs of one scenario on
    /// one lab in the same second get `-2`, `-3`, …).
    pub fn claim_id(&self, record: &mut RunRecord) {
        record.id = self.free_id(&record.id);
    }

    fn free_id(&self, base: &str) -> String {
        let mut id = base.to_string();
        let mut n = 2;
        while self.path_of(&id).exists() {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    /// Write a run atomically (temporary file in the same directory, then
    /// rename); refuses to replace a stored run.
    pub fn save(&self, record: &RunRecord) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError::CreateDir {
            dir: self.dir.clone(),
            source,
        })?;
        let path = self.path_of(&record.id);
        if path.exists() {
            return Err(StoreError::Exists { path });
        }
        let tmp = self
            .dir
            .join(format!(".{}.json.tmp-{}", record.id, std::process::id()));
        let write = |p: &Path| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)?;
            serde_json::to_writer_pretty(&mut f, record)?;
            f.write_all(b"\n")?;
            f.sync_all()
        };
        if let Err(source) = write(&tmp).and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::Write { path, source });
        }
        Ok(path)
    }

    /// A run by id (its file name without `.json`) or by the path of a file.
    pub fn load(&self, id_or_path: &str) -> Result<RunRecord, StoreError> {
        let as_path = Path::new(id_or_path);
        if as_path.is_file() {
            return read_record(as_path);
        }
        let path = self.path_of(id_or_path);
        if path.is_file() {
            return read_record(&path);
        }
        let ids: Vec<String> = self
            .files()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        let hint = crate::suggest::did_you_mean(id_or_path, ids.iter().map(String::as_str))
            .map(str::to_string);
        Err(StoreError::NotFound {
            id: id_or_path.to_string(),
            dir: self.dir.clone(),
            hint,
        })
    }

    /// Every stored run, oldest first. A directory that does not exist holds
    /// no runs; a file that cannot be read is an error naming it.
    pub fn list(&self) -> Result<Vec<RunSummary>, StoreError> {
        let mut out = Vec::new();
        for path in self.files()? {
            let record = read_record(&path)?;
            out.push(record.summary(path));
        }
        out.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
        Ok(out)
    }

    /// The most recently started run.
    pub fn last(&self) -> Result<RunRecord, StoreError> {
        match self.list()?.pop() {
            Some(s) => read_record(&s.path),
            None => Err(StoreError::Empty {
                dir: self.dir.clone(),
            }),
        }
    }

    fn files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::List {
                    dir: self.dir.clone(),
                    source,
                })
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| StoreError::List {
                    dir: self.dir.clone(),
                    source,
                })?
                .path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            // Temporary files of a save in progress start with a dot.
            if name.is_some_and(|n| n.ends_with(".json") && !n.starts_with('.')) {
                files.push(path);
            }
        }
        Ok(files)
    }
}

/// Read one record, checking its format version before its shape.
pub fn read_record(path: &Path) -> Result<RunRecord, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| StoreError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    #[derive(Deserialize)]
    struct Header {
        format_version: u32,
    }
    let parse_error = |e: serde_path_to_error::Error<serde_json::Error>| StoreError::Parse {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    };
    let header: Header =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(parse_error)?;
    if header.format_version > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found: header.format_version,
        });
    }
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
        .map_err(parse_error)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::timeline::{EventKind, Outcome, Request};
    use crate::verdict::{judge, VerdictContext};

    pub(crate) fn lab() -> Lab {
        Lab::from_yaml(
            &std::fs::read_to_string("labs/fast-failover.yaml").unwrap(),
            Path::new("labs/fast-failover.yaml"),
        )
        .unwrap()
    }

    fn record(at_secs: u64, scenario: ScenarioName) -> RunRecord {
        let lab = lab();
        let mut t = Timeline::default();
        t.push(
            1_000,
            EventKind::Fault {
                action: "docker stop".into(),
            },
        );
        t.push(
            500,
            EventKind::Request(Request {
                seq: 0,
                sent: 0,
                done: 500,
                outcome: Outcome::Page {
                    node: "nginx_master".into(),
                },
            }),
        );
        let t = t.finish();
        let v = judge(&t, &VerdictContext::for_lab(&lab, scenario, false));
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(at_secs);
        RunRecord::new(
            &lab,
            scenario,
            RunParams::for_lab(&lab, scenario, true),
            t,
            v,
            started,
        )
    }

    #[test]
    fn ids_sort_by_start_and_name_the_run() {
        let r = record(1_795_611_901, ScenarioName::StopMaster);
        assert_eq!(r.id, "20261125T130501Z-stop-master-fast-failover");
        assert_eq!(r.started_at, "2026-11-25T13:05:01Z");
        assert_eq!(r.format_version, FORMAT_VERSION);
        assert_eq!(r.halab_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(r.params.nodes(), vec!["nginx_master", "nginx_slave"]);
    }

    #[test]
    fn save_load_list_last_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("runs"));
        assert!(
            store.list().unwrap().is_empty(),
            "a missing directory holds no runs"
        );
        assert!(matches!(store.last(), Err(StoreError::Empty { .. })));

        let late = record(2_000_000_000, ScenarioName::KillMaster);
        let early = record(1_000_000_000, ScenarioName::StopMaster);
        let p_late = store.save(&late).unwrap();
        store.save(&early).unwrap();
        assert_eq!(p_late, store.path_of(&late.id));

        assert_eq!(store.load(&late.id).unwrap(), late);
        assert_eq!(store.load(p_late.to_str().unwrap()).unwrap(), late);
        let list = store.list().unwrap();
        let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec![early.id.as_str(), late.id.as_str()]);
        assert_eq!(store.last().unwrap(), late);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 2);
    }

    #[test]
    fn never_overwrites_and_new_id_finds_a_free_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut r = record(1_000_000_000, ScenarioName::StopMaster);
        store.save(&r).unwrap();
        assert!(matches!(store.save(&r), Err(StoreError::Exists { .. })));
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        r.id = store.new_id(started, r.scenario, &r.lab);
        assert_eq!(r.id, "20010909T014640Z-stop-master-fast-failover-2");
        store.save(&r).unwrap();
        let mut again = record(1_000_000_000, ScenarioName::StopMaster);
        store.claim_id(&mut again);
        assert_eq!(again.id, "20010909T014640Z-stop-master-fast-failover-3");
    }

    #[test]
    fn newer_format_is_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut r = record(1_000_000_000, ScenarioName::StopMaster);
        r.format_version = FORMAT_VERSION + 1;
        let path = store.save(&r).unwrap();
        let err = store.load(&r.id).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found: 2, .. }));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("written by a newer halab"), "{msg}");
    }

    #[test]
    fn broken_and_missing_runs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let r = record(1_000_000_000, ScenarioName::StopMaster);
        store.save(&r).unwrap();
        let err = store
            .load("20010909T014640Z-stop-mastr-fast-failover")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("did you mean `20010909T014640Z-stop-master-fast-failover`?"),
            "{err}"
        );
        std::fs::write(
            dir.path().join("junk.json"),
            r#"{"format_version": 1, "id": 3}"#,
        )
        .unwrap();
        let err = store.list().unwrap_err();
        match &err {
            StoreError::Parse { path, field, .. } => {
                assert!(path.ends_with("junk.json"));
                assert_eq!(field, "id");
            }
            other => panic!("{other:?}"),
        }
    }
}
