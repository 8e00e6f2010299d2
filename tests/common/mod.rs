//! Shared by the integration tests that drive the real `halab` binary
//! against the real engine: an engine check that fails under CI and skips
//! elsewhere, a lab guard that runs `halab down` on drop, ports, and a
//! runner returning (exit code, stdout, stderr).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The runs a `halab` command says it stored (`stored PATH` on stderr,
/// relative to `dir`), read back.
pub fn stored_runs(dir: &Path, out: &Out) -> Vec<halab::store::RunRecord> {
    out.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("stored "))
        .map(|p| halab::store::read_record(&dir.join(p.trim())).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The binary under test.
pub fn halab_bin() -> &'static str {
    env!("CARGO_BIN_EXE_halab")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped seed lab file.
pub fn seed_lab_file() -> PathBuf {
    repo().join("labs/nginx-keepalived.yaml")
}

/// Whether the engine answers. Under `CI=true` an unreachable engine fails
/// the test; elsewhere it prints a skip line and the test returns.
pub fn engine_or_skip(test: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(halab::engine::DockerEngine::connect()) {
        Ok(_) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the Docker engine is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("SKIP {test}: no Docker engine ({e})");
            false
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What one run of the binary gave back.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `halab ARGS` in `dir` (so `.halab/` lands there, not in the repo).
pub fn run_in(dir: &Path, args: &[&str]) -> Out {
    run_in_with(dir, args, &[])
}

/// Sends SIGINT (what Ctrl-C sends) to process `pid`.
pub fn send_sigint(pid: u32) {
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -INT {pid} failed");
}

/// [`run_in`] with environment variables set for halab.
pub fn run_in_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let t = Instant::now();
    let out = Command::new(halab_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("HALAB_LAB")
        .envs(env.iter().copied())
        .output()
        .expect("halab runs");
    let out = Out {
        code: out.status.code().expect("halab exited with a code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ halab {} → exit {} in {:.1?}",
        args.join(" "),
        out.code,
        t.elapsed()
    );
    out
}

/// One lab of a test: its own name, port and subnet, and a work folder.
/// Dropping it runs `halab down --name NAME` (by label), also when the
/// test panicked.
pub struct Lab {
    pub name: String,
    pub port: u16,
    pub subnet: String,
    pub file: PathBuf,
    pub dir: tempfile::TempDir,
    /// `down --images` on drop (the default: the lab image's tag hashes
    /// the rendered files, the port among them, so it is never reused).
    pub remove_images: bool,
}

impl Lab {
    /// The seed lab under `name` on a free port and `subnet`; whatever an
    /// interrupted earlier run left under this name is removed first.
    pub fn seed(name: &str, subnet: &str) -> Lab {
        Lab::from_file(name, subnet, seed_lab_file())
    }

    pub fn from_file(name: &str, subnet: &str, file: PathBuf) -> Lab {
        let lab = Lab {
            name: name.to_string(),
            port: free_port(),
            subnet: subnet.to_string(),
            file,
            dir: tempfile::tempdir().unwrap(),
            remove_images: true,
        };
        lab.down();
        lab
    }

    /// `--lab F --name N --port P --subnet S`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--lab".into(),
            self.file.display().to_string(),
            "--name".into(),
            self.name.clone(),
            "--port".into(),
            self.port.to_string(),
            "--subnet".into(),
            self.subnet.clone(),
        ]
    }

    /// `halab VERB <lab args> EXTRA` in the lab's work folder.
    pub fn halab(&self, verb: &[&str], extra: &[&str]) -> Out {
        let args = self.args();
        let mut all: Vec<&str> = verb.to_vec();
        all.extend(args.iter().map(String::as_str));
        all.extend_from_slice(extra);
        run_in(self.dir.path(), &all)
    }

    /// `halab up`, which must succeed.
    pub fn up(&self) -> Out {
        let out = self.halab(&["up"], &["--timeout", "90s"]);
        assert_eq!(out.code, 0, "up of `{}` failed:\n{}", self.name, out.all());
        out
    }

    pub fn down(&self) -> Out {
        let mut args = vec!["down", "--name", self.name.as_str()];
        if self.remove_images {
            args.push("--images");
        }
        run_in(self.dir.path(), &args)
    }

    /// `status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let out = self.halab(&["status"], &["--json"]);
        assert_eq!(out.code, 0, "{}", out.all());
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Where `chaos` stores runs unless told otherwise.
    pub fn runs_dir(&self) -> PathBuf {
        self.dir.path().join(".halab/runs")
    }
}

impl Drop for Lab {
    /// Removes the lab, then checks that every run the test stored
    /// re-judges to its stored verdict (unless the test already failed).
    fn drop(&mut self) {
        let out = self.down();
        if out.code != 0 {
            eprintln!("clean-up of lab `{}` failed:\n{}", self.name, out.all());
        }
        if !std::thread::panicking() {
            let n = assert_runs_rejudge(&self.runs_dir());
            eprintln!("lab `{}`: {n} stored runs re-judged as stored", self.name);
            let n = assert_runs_causal(&self.runs_dir());
            eprintln!(
                "lab `{}`: {n} stored runs put the cause before the effect",
                self.name
            );
        }
    }
}

/// Every run stored in `dir`, judged again from its stored timeline and
/// spec, gives its stored verdict; how many runs there were.
pub fn assert_runs_rejudge(dir: &Path) -> usize {
    let store = halab::store::Store::at(dir);
    let runs = store.list().unwrap_or_else(|e| panic!("{e}"));
    for run in &runs {
        let r = halab::store::read_record(&run.path).unwrap_or_else(|e| panic!("{e}"));
        pretty_assertions::assert_eq!(
            r.rejudge(),
            r.verdict,
            "run {} re-judged from its stored spec differs from its stored verdict",
            r.id
        );
    }
    runs.len()
}

/// Every run stored in `dir` has its events in causal order, as they are
/// stamped at their source: VRRP moved no later than clients saw it, and
/// no stop-master run (a clean handover) shows two owners of the VIP. How
/// many runs there were.
pub fn assert_runs_causal(dir: &Path) -> usize {
    let store = halab::store::Store::at(dir);
    let runs = store.list().unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = Vec::new();
    for run in &runs {
        let r = halab::store::read_record(&run.path).unwrap_or_else(|e| panic!("{e}"));
        let m = &r.verdict.metrics;
        if let (Some(vrrp), Some(seen)) = (m.vrrp_takeover, m.switch) {
            if vrrp > seen as i64 {
                wrong.push(format!("run {}: {}", r.id, m.story()));
            }
        }
        // The fault's handover only: after the heal the master takes the VIP
        // back, and that handover (the new master adds the VIP, then its
        // advert makes the old one drop it) was seen to overlap 6.5 ms under
        // a whole CI run, above the verdict's 5 ms resolution.
        let before_heal: Vec<_> = m
            .dual_owner
            .iter()
            .filter(|s| !m.heal_at.is_some_and(|h| s.start >= h))
            .collect();
        if r.scenario == halab::lab::ScenarioName::StopMaster && !before_heal.is_empty() {
            wrong.push(format!(
                "run {}: stop-master with dual ownership before the heal {:?}",
                r.id, before_heal
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    runs.len()
}

/// name → full container id of every container labelled
/// `halab.lab=<lab>` (any state): equal before and after a no-op `up`.
pub fn container_ids(lab: &str) -> std::collections::BTreeMap<String, String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("label=halab.lab={lab}"),
            "--format",
            "{{.Names}} {{.ID}}",
        ])
        .output()
        .expect("docker CLI runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, id)| (n.to_string(), id.to_string()))
        .collect()
}

/// Names of the engine's containers labelled `halab.lab=<lab>` (any state).
pub fn labelled_containers(lab: &str) -> Vec<String> {
    docker_names(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=halab.lab={lab}"),
        "--format",
        "{{.Names}}",
    ])
}

/// [`labelled_containers`] once those an interrupted image build still had
/// (build steps carry the lab's label; the engine's builder removes them
/// moments later) are gone: waits up to 10 s.
pub fn containers_left(lab: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = labelled_containers(lab);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Images (layers included) labelled `halab.lab=<lab>` that have no tag:
/// what an interrupted build of the lab's image committed.
pub fn untagged_images(lab: &str) -> Vec<String> {
    docker_names(&[
        "images",
        "-a",
        "--filter",
        &format!("label=halab.lab={lab}"),
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ])
    .into_iter()
    .filter(|l| l.ends_with(" <none>:<none>"))
    .collect()
}

/// Names of the engine's networks labelled `halab.lab=<lab>`.
pub fn labelled_networks(lab: &str) -> Vec<String> {
    docker_names(&[
        "network",
        "ls",
        "--filter",
        &format!("label=halab.lab={lab}"),
        "--format",
        "{{.Name}}",
    ])
}

fn docker_names(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// What GET http://127.0.0.1:<port>/ answered: (status, body).
pub fn get(port: u16, timeout: Duration) -> Result<(u16, String), String> {
    get_url(&format!("http://127.0.0.1:{port}/"), timeout).map(|(status, _, body)| (status, body))
}

/// Polls the port until it answers 200 with a body containing `text`;
/// the last answer when `within` passes first.
pub fn wait_for_page(port: u16, text: &str, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last;
    loop {
        last = get(port, Duration::from_secs(1));
        if let Ok((200, body)) = &last {
            if body.contains(text) {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() >= within {
            return Err(format!(
                "no 200 with `{text}` on port {port} within {within:?}; last answer: {last:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The seed's project: beside the checkout (`../shared`), else where this
/// machine keeps it. Under `CI=true` it must be there.
pub fn seed_project() -> Option<PathBuf> {
    let beside = repo().join("../shared/seed/nginx_keepalived");
    let here = PathBuf::from("/work/shared/seed/nginx_keepalived");
    let found = [beside.clone(), here].into_iter().find(|p| p.is_dir());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and the seed's project is not at {}",
            beside.display()
        );
        eprintln!("skipped: the seed's project is not at {}", beside.display());
    }
    found
}

/// What GET `url` answered: (status, its `X-Halab-LB` header, body). For
/// the production shape, whose clients use http://VIP:PORT/ on the lab's
/// bridge.
pub fn get_url(url: &str, timeout: Duration) -> Result<(u16, Option<String>, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let lb = resp
            .headers()
            .get(halab::lab::LB_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, lb, body))
    })
}

/// The shipped load-balancer pair.
pub fn lb_pair_file() -> PathBuf {
    repo().join("labs/lb-pair.yaml")
}

/// A rendered lab's docker-compose project (`docker-compose -p NAME` in its
/// folder); `down --rmi all` on drop, also when the test failed (the image
/// compose built carries no halab label), before the lab guard's `halab
/// down --images`.
pub struct Compose {
    pub project: String,
    pub dir: PathBuf,
}

impl Compose {
    pub fn new(project: &str, dir: &Path) -> Compose {
        Compose {
            project: project.to_string(),
            dir: dir.to_path_buf(),
        }
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let t = Instant::now();
        let out = Command::new("docker-compose")
            .args(["-p", &self.project])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("docker-compose runs");
        eprintln!(
            "$ docker-compose {} → {:?} in {:.1?}",
            args.join(" "),
            out.status.code(),
            t.elapsed()
        );
        out
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let out = self.run(&["down", "--rmi", "all"]);
        if !out.status.success() {
            eprintln!("docker-compose down: {out:?}");
        }
    }
}

/// `sh -c SCRIPT` in a container; its stdout (the script must succeed).
pub fn exec(container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker exec runs");
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of any degraded-network fault is left in `container`: no halab
/// firewall rule, no CPU cap, its link up with its default route, no netem.
pub fn assert_no_fault_left(container: &str, what: &str) {
    let rules = exec(container, "iptables -w -S");
    assert!(!rules.contains("halab-"), "{what}: rules left: {rules}");
    assert_eq!(
        exec(container, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us").trim(),
        "-1",
        "{what}: CPU cap left"
    );
    let link = exec(container, "ip -o link show eth0");
    assert!(link.contains(",UP,"), "{what}: link left down: {link}");
    let routes = exec(container, "ip route show default");
    assert!(
        routes.starts_with("default via"),
        "{what}: default route gone"
    );
    assert!(
        !exec(container, "tc qdisc show dev eth0").contains("netem"),
        "{what}: netem left"
    );
}
