//! The run store: one versioned JSON file per run under `.halab/runs/`.
//!
//! A stored run carries its whole timeline and verdict, so every report can
//! be made again from it long after the lab is gone. Files are written to a
//! temporary name in the same directory and renamed, so a reader never sees
//! half a run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::lab::{Lab, ScenarioName};
use crate::spec::RunSpec;
use crate::timeline::Timeline;
use crate::verdict::{judge, Status, Verdict, INTERRUPTED};

/// Version of the record layout written by this halab. 2: the run's whole
/// spec (plan, expectations, budgets, probe) replaced version 1's `params`.
pub const FORMAT_VERSION: u32 = 2;

/// Where runs go when no directory is given.
pub const DEFAULT_DIR: &str = ".halab/runs";

/// One scenario run, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format_version: u32,
    /// `20261125T130501Z-stop-master-<lab>`: sorts by start time. The store
    /// makes it unique when the run is saved.
    pub id: String,
    pub halab_version: String,
    pub lab: String,
    pub lab_file: String,
    pub scenario: ScenarioName,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    /// Everything the run was made with and is judged by.
    pub spec: RunSpec,
    pub timeline: Timeline,
    pub verdict: Verdict,
    /// Ctrl-C cut the run short: its verdict is `aborted`.
    pub aborted: bool,
}

impl RunRecord {
    /// The record of a run of `spec` on `lab` that started at `started`,
    /// judged here from its timeline and spec, as [`RunRecord::rejudge`]
    /// judges it again.
    pub fn new(
        lab: &Lab,
        spec: RunSpec,
        timeline: Timeline,
        aborted: bool,
        started: SystemTime,
    ) -> RunRecord {
        let scenario = spec.scenario();
        RunRecord {
            format_version: FORMAT_VERSION,
            id: run_id(started, scenario, lab.name()),
            halab_version: env!("CARGO_PKG_VERSION").to_string(),
            lab: lab.name().to_string(),
            lab_file: lab.source().display().to_string(),
            scenario,
            started_at: rfc3339(started),
            verdict: verdict_of(&timeline, &spec, aborted),
            timeline,
            spec,
            aborted,
        }
    }

    /// The verdict of the stored timeline under the stored spec: what
    /// `halab report --rejudge` shows, equal to `verdict` for every run this
    /// halab made.
    pub fn rejudge(&self) -> Verdict {
        verdict_of(&self.timeline, &self.spec, self.aborted)
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

/// The one way a run is judged, when it is made and whenever it is
/// re-judged.
fn verdict_of(timeline: &Timeline, spec: &RunSpec, aborted: bool) -> Verdict {
    let v = judge(timeline, spec);
    if aborted {
        v.aborted(INTERRUPTED)
    } else {
        v
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
    #[error("cannot create the run directory `{}`\n  fix: check the permissions, or pass another directory", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write run `{}`\n  fix: check free space and permissions of its directory", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read run `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list runs in `{}`\n  fix: run a scenario first (`halab chaos stop-master` or `halab test`), or pass the directory that holds the runs", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a halab run record: {}{message}\n  fix: move the file out of the run directory", path.display(), field_at(field))]
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
    #[error("`{}` is larger than a run can be ({} MiB)\n  fix: move it out of the run directory", path.display(), MAX_RUN_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("no stored runs in `{}`\n  fix: run a scenario first, e.g. `halab chaos stop-master` (or `halab test`)", dir.display())]
    Empty { dir: PathBuf },
    #[error("`{}` is inside the run directory `{}`, where every `.json` file is read as a run\n  fix: write the report elsewhere, e.g. `-o report.json`", path.display(), dir.display())]
    OutputInRuns { path: PathBuf, dir: PathBuf },
}

/// What [`Store::read_all`] found: the runs (with their files), and the
/// files it skipped with why.
#[derive(Debug, Default)]
pub struct Runs {
    pub records: Vec<(PathBuf, RunRecord)>,
    pub skipped: Vec<StoreError>,
}

/// `field `x`: ` where the parser knew the field (its root is `.`, an
/// unknown place `?`: neither names anything for a person).
fn field_at(field: &str) -> String {
    match field {
        "" | "." | "?" => String::new(),
        f => format!("field `{f}`: "),
    }
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
    /// rename) under an id no stored run has: two runs of one scenario on
    /// one lab in the same second get `-2`, `-3`, …, so a stored run is
    /// never replaced. `record.id` is set to the id it was stored under.
    pub fn save(&self, record: &mut RunRecord) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError::CreateDir {
            dir: self.dir.clone(),
            source,
        })?;
        record.id = self.free_id(&record.id);
        let path = self.path_of(&record.id);
        let tmp = self
            .dir
            .join(format!(".{}.json.tmp-{}", record.id, std::process::id()));
        let write = |p: &Path| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)?;
            serde_json::to_writer_pretty(&mut f, &*record)?;
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

    /// Every stored run, oldest first, read file by file: a file that is
    /// not a readable run (a foreign `.json`, a newer format, a broken
    /// write) is skipped and returned beside the others with its error, so
    /// one bad file hides no run. A directory that does not exist holds no
    /// runs.
    pub fn read_all(&self) -> Result<Runs, StoreError> {
        let mut runs = Runs::default();
        for path in self.files()? {
            match read_record(&path) {
                Ok(record) => runs.records.push((path, record)),
                Err(e) => runs.skipped.push(e),
            }
        }
        runs.records
            .sort_by(|(_, a), (_, b)| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
        Ok(runs)
    }

    /// Every readable stored run, oldest first (see [`Store::read_all`]).
    pub fn list(&self) -> Result<Vec<RunSummary>, StoreError> {
        Ok(self
            .read_all()?
            .records
            .into_iter()
            .map(|(path, record)| record.summary(path))
            .collect())
    }

    /// The most recently started readable run.
    pub fn last(&self) -> Result<RunRecord, StoreError> {
        match self.read_all()?.records.pop() {
            Some((_, record)) => Ok(record),
            None => Err(StoreError::Empty {
                dir: self.dir.clone(),
            }),
        }
    }

    /// Refuses `path` as a place to write a report when it lies inside this
    /// store: every later read would take it for a run.
    pub fn refuse_inside(&self, path: &Path) -> Result<(), StoreError> {
        // Compared as real paths, so `./runs/../runs/x.json` or a symlink
        // is caught too; a store that does not exist yet holds nothing.
        let Ok(dir) = self.dir.canonicalize() else {
            return Ok(());
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match parent.canonicalize() {
            Ok(parent) if parent.starts_with(&dir) => Err(StoreError::OutputInRuns {
                path: path.to_path_buf(),
                dir: self.dir.clone(),
            }),
            _ => Ok(()),
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
        // In name order: what is read, and warned about, is the same on
        // every file system.
        files.sort();
        Ok(files)
    }
}

/// Largest run file halab reads: about a million probe requests, far more
/// than an hour's watch at the default interval writes (a 7 s run is
/// ≈ 80 KiB). The bound keeps a stray file from being read whole.
pub const MAX_RUN_BYTES: u64 = 256 << 20;

/// Read one record (a regular file of at most [`MAX_RUN_BYTES`]), checking
/// its format version before its shape.
pub fn read_record(path: &Path) -> Result<RunRecord, StoreError> {
    use crate::textfile::TextError;
    let text = crate::textfile::read(path, MAX_RUN_BYTES).map_err(|e| match e {
        TextError::TooLarge { .. } => StoreError::TooLarge {
            path: path.to_path_buf(),
        },
        e => StoreError::Read {
            path: path.to_path_buf(),
            source: e.into_io(),
        },
    })?;
    #[derive(Deserialize)]
    struct Header {
        format_version: u32,
        /// Read loosely: only whether it has `warnings` matters here.
        #[serde(default)]
        verdict: Option<serde_json::Value>,
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
    let mut de = serde_json::Deserializer::from_str(&text);
    let mut record = if header.format_version == 1 {
        let old: v1::Record = serde_path_to_error::deserialize(&mut de).map_err(parse_error)?;
        old.upgrade()
    } else {
        serde_path_to_error::deserialize(&mut de).map_err(parse_error)?
    };
    // A verdict stored before halab had warnings gets those its own
    // measurements imply, so a re-judged run differs only where its
    // measurements do.
    if header
        .verdict
        .as_ref()
        .is_some_and(|v| v.get("warnings").is_none())
    {
        record.verdict.warnings =
            crate::verdict::warnings(&record.verdict.metrics, &record.timeline, &record.spec);
    }
    // Likewise the counts by phase and the pool's view (#14), measured from
    // its own timeline.
    if header
        .verdict
        .as_ref()
        .is_some_and(|v| v["metrics"].get("requests_by_phase").is_none())
    {
        let now = crate::verdict::measure(&record.timeline, &record.spec);
        let m = &mut record.verdict.metrics;
        m.requests_by_phase = now.requests_by_phase;
        m.errors_by_phase = now.errors_by_phase;
        m.per_backend = now.per_backend;
        m.pool = now.pool;
        m.pool_holder = now.pool_holder;
        m.pool_removed = now.pool_removed;
    }
    Ok(record)
}

/// Records of format version 1: `params` (probe settings, budget, heal,
/// nodes) where version 2 has the whole spec.
mod v1 {
    use std::time::Duration;

    use serde::Deserialize;

    use super::{RunRecord, FORMAT_VERSION};
    use crate::lab::{Budget, ScenarioName};
    use crate::spec::RunSpec;
    use crate::timeline::Timeline;
    use crate::verdict::{judge, Verdict};

    #[derive(Deserialize)]
    pub(super) struct Record {
        id: String,
        halab_version: String,
        lab: String,
        lab_file: String,
        scenario: ScenarioName,
        started_at: String,
        params: Params,
        timeline: Timeline,
        verdict: Verdict,
        aborted: bool,
    }

    #[derive(Deserialize)]
    struct Params {
        #[serde(with = "humantime_serde")]
        interval: Duration,
        #[serde(with = "humantime_serde")]
        timeout: Duration,
        #[serde(with = "humantime_serde")]
        late_after: Duration,
        budget: Budget,
        heal: bool,
        #[serde(default)]
        master: String,
        #[serde(default)]
        backups: Vec<String>,
    }

    impl Record {
        /// The record in today's layout. The plan comes from the catalogue
        /// (containers are `<lab>-<node>`); every version 1 run watched the
        /// VIP. Whether the lab preempted was not stored: the expectation
        /// that reproduces the stored verdict is taken, preempting (the
        /// default) when both do.
        pub(super) fn upgrade(self) -> RunRecord {
            let p = self.params;
            let lab = self.lab.clone();
            let backup = p.backups.first().cloned().unwrap_or_default();
            let spec = |preempt: bool| RunSpec {
                plan: crate::scenario::get(self.scenario).plan_for(
                    &|node| format!("{lab}-{node}"),
                    &p.master,
                    &backup,
                    preempt,
                ),
                interval: p.interval,
                timeout: p.timeout,
                late_after: p.late_after,
                budget: p.budget.clone(),
                heal: p.heal,
                master: p.master.clone(),
                backups: p.backups.clone(),
                watched_vip: true,
                point: Default::default(),
                strict: false,
            };
            let preempting = spec(true);
            let recovery = |s: &RunSpec| judge(&self.timeline, s).metrics.recovery;
            let spec = if recovery(&preempting) == self.verdict.metrics.recovery {
                preempting
            } else {
                spec(false)
            };
            RunRecord {
                format_version: FORMAT_VERSION,
                id: self.id,
                halab_version: self.halab_version,
                lab: self.lab,
                lab_file: self.lab_file,
                scenario: self.scenario,
                started_at: self.started_at,
                spec,
                timeline: self.timeline,
                verdict: self.verdict,
                aborted: self.aborted,
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::spec::Choices;
    use crate::timeline::{EventKind, Outcome, Request};
    use std::time::Duration;

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
                backend: None,
                outcome: Outcome::Page {
                    node: "nginx_master".into(),
                },
            }),
        );
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(at_secs);
        let spec = RunSpec::new(&lab, scenario, &Choices::default());
        RunRecord::new(&lab, spec, t.finish(), false, started)
    }

    #[test]
    fn ids_sort_by_start_and_name_the_run() {
        let r = record(1_795_611_901, ScenarioName::StopMaster);
        assert_eq!(r.id, "20261125T130501Z-stop-master-fast-failover");
        assert_eq!(r.started_at, "2026-11-25T13:05:01Z");
        assert_eq!(r.format_version, FORMAT_VERSION);
        assert_eq!(r.halab_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(r.spec.nodes(), vec!["nginx_master", "nginx_slave"]);
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

        let mut late = record(2_000_000_000, ScenarioName::KillMaster);
        let mut early = record(1_000_000_000, ScenarioName::StopMaster);
        let p_late = store.save(&mut late).unwrap();
        store.save(&mut early).unwrap();
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
    fn the_store_picks_a_free_id_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let first = record(1_000_000_000, ScenarioName::StopMaster);
        for (n, id) in [
            "20010909T014640Z-stop-master-fast-failover",
            "20010909T014640Z-stop-master-fast-failover-2",
            "20010909T014640Z-stop-master-fast-failover-3",
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = first.clone();
            let path = store.save(&mut r).unwrap();
            assert_eq!(r.id, id, "save {n}");
            assert_eq!(path, store.path_of(id));
            assert_eq!(store.load(id).unwrap(), r);
        }
        assert_eq!(store.list().unwrap().len(), 3);
    }

    #[test]
    fn a_stored_run_rejudges_to_its_stored_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        for s in ScenarioName::ALL {
            let mut r = record(1_000_000_000, s);
            store.save(&mut r).unwrap();
            let back = store.load(&r.id).unwrap();
            assert_eq!(back.rejudge(), back.verdict, "{s}");
        }
        let mut aborted = record(1_000_000_000, ScenarioName::KillMaster);
        aborted.aborted = true;
        assert_eq!(aborted.rejudge().status, Status::Aborted);
    }

    /// A run in format 1 (`params`, no spec), as halab up to commit ee75e9f
    /// stored it; that build's `halab report` reads this file.
    #[test]
    fn a_version_1_run_reads_and_rejudges_to_its_stored_verdict() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-v1.json");
        let r = read_record(&path).unwrap();
        assert_eq!(r.format_version, FORMAT_VERSION);
        assert_eq!(r.scenario, ScenarioName::KillMaster);
        assert_eq!(
            r.spec.plan.inject,
            vec![crate::scenario::Action::Kill {
                container: "fixture-nginx_master".into(),
                signal: "SIGKILL".into()
            }]
        );
        assert!(r.spec.plan.expect_switch && r.spec.plan.expect_failback);
        assert_eq!(r.spec.budget.switch_within, Some(Duration::from_secs(3)));
        assert_eq!(r.spec.nodes(), ["nginx_master", "nginx_slave"]);
        assert_eq!(r.verdict.status, Status::Fail);
        assert_eq!(r.rejudge(), r.verdict);
        // Stored before warnings existed: read with those its measurements
        // imply (160 failed requests and 2 late answers, unbudgeted).
        let kinds: Vec<_> = r.verdict.warnings.iter().map(|w| w.kind).collect();
        use crate::verdict::WarningKind::*;
        assert_eq!(kinds, [Failed, LostAfterHeal, Late]);
    }

    #[test]
    fn a_version_2_verdict_without_warnings_reads_with_its_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = record(1_000_000_000, ScenarioName::KillMaster);
        r.spec.budget.max_failed = None;
        r.timeline.push(
            1_500,
            EventKind::Request(Request {
                seq: 1,
                sent: 1_200,
                done: 1_500,
                backend: None,
                outcome: Outcome::Timeout,
            }),
        );
        r.verdict = r.rejudge();
        assert_eq!(r.verdict.warnings.len(), 1);
        let mut json = serde_json::to_value(&r).unwrap();
        json["verdict"].as_object_mut().unwrap().remove("warnings");
        let path = dir.path().join("old.json");
        std::fs::write(&path, json.to_string()).unwrap();
        assert_eq!(read_record(&path).unwrap(), r);
    }

    #[test]
    fn newer_format_is_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut r = record(1_000_000_000, ScenarioName::StopMaster);
        r.format_version = FORMAT_VERSION + 1;
        let path = store.save(&mut r).unwrap();
        let err = store.load(&r.id).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found: 3, .. }));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("written by a newer halab"), "{msg}");
    }

    #[test]
    fn broken_and_missing_runs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut r = record(1_000_000_000, ScenarioName::StopMaster);
        store.save(&mut r).unwrap();
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
        // One bad file is skipped and named; the good run is still read.
        let runs = store.read_all().unwrap();
        assert_eq!(runs.records.len(), 1);
        assert_eq!(runs.records[0].1, r);
        match &runs.skipped[..] {
            [StoreError::Parse { path, field, .. }] => {
                assert!(path.ends_with("junk.json"));
                assert_eq!(field, "id");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.list().unwrap().len(), 1);
        assert_eq!(store.last().unwrap(), r);
    }

    /// A FIFO named like a run would block the read for ever, a huge file
    /// would be read whole: both are skipped and named, the run still read.
    #[test]
    fn a_fifo_or_a_huge_file_among_the_runs_is_skipped_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut r = record(1_000_000_000, ScenarioName::StopMaster);
        store.save(&mut r).unwrap();
        let fifo = dir.path().join("a-fifo.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        // Sparse: as large as it says, without the disk.
        let huge = dir.path().join("b-huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_RUN_BYTES + 1)
            .unwrap();
        let runs = store.read_all().unwrap();
        assert_eq!(runs.records.len(), 1);
        let said: Vec<String> = runs
            .skipped
            .iter()
            .map(|e| crate::ui::one_line(e))
            .collect();
        assert_eq!(
            said,
            [
                format!(
                    "cannot read run `{}`: not a regular file (a folder, a FIFO or a device)",
                    fifo.display()
                ),
                format!(
                    "`{}` is larger than a run can be (256 MiB)\n  fix: move it out of the run directory",
                    huge.display()
                ),
            ]
        );
    }

    #[test]
    fn a_report_is_refused_inside_the_run_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let store = Store::at(&runs);
        // No run directory yet: nothing to protect.
        store.refuse_inside(&runs.join("x.json")).unwrap();
        std::fs::create_dir(&runs).unwrap();
        let err = store.refuse_inside(&runs.join("summary.json")).unwrap_err();
        assert!(matches!(err, StoreError::OutputInRuns { .. }), "{err}");
        let sneaky = dir.path().join("runs/../runs/summary.json");
        assert!(store.refuse_inside(&sneaky).is_err());
        store
            .refuse_inside(&dir.path().join("summary.json"))
            .unwrap();
    }
}
