//! The top-level Dockerfile: halab packaged for CI pipelines.
//!
//! Builds the image through the engine from a small build context laid out
//! like the repository (Dockerfile, .dockerignore, labs/, templates/, the
//! binary under test at `target/release/halab`), then runs the image: its
//! version, a render inside the container, and a status that reaches the
//! host engine through the mounted socket.
//!
//! Needs the docker CLI, a running engine and the base image
//! (`halab image build`). Under CI=true a missing one fails the test;
//! elsewhere the test prints a skip line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const TAG: &str = "halab-cli:test";
const BASE: &str = "halab-base:bookworm";
const SOCKET: &str = "/var/run/docker.sock";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let info = match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Err(e) => return Some(format!("no docker CLI ({e})")),
        Ok(o) if !o.status.success() => {
            return Some(format!("no Docker engine: {}", text(&o.stderr).trim()))
        }
        Ok(o) => o,
    };
    eprintln!("engine {}", text(&info.stdout).trim());
    if !docker(&["image", "inspect", "--format", "{{.Id}}", BASE])
        .status
        .success()
    {
        return Some(format!(
            "base image `{BASE}` is not in the engine (make it with `halab image build`)"
        ));
    }
    None
}

/// Removes the test image however the test ends.
struct ImageGuard;

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let o = docker(&["rmi", "--force", TAG]);
        if !o.status.success() {
            eprintln!("could not remove {TAG}: {}", text(&o.stderr).trim());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A build context shaped like the repository, holding only what the
/// Dockerfile needs plus a decoy that `.dockerignore` must keep out.
fn build_context(dir: &Path) -> u64 {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["Dockerfile", ".dockerignore"] {
        std::fs::copy(repo.join(f), dir.join(f)).unwrap();
    }
    copy_dir(&repo.join("labs"), &dir.join("labs"));
    copy_dir(&repo.join("templates"), &dir.join("templates"));
    // The binary under test goes where `cargo build --release` puts it, the
    // path the Dockerfile's HALAB_BIN names and the ignore file lets through.
    let bin = dir.join("target/release/halab");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let size = std::fs::copy(env!("CARGO_BIN_EXE_halab"), &bin).unwrap();
    let decoy = dir.join("target/debug/deps/decoy.rlib");
    std::fs::create_dir_all(decoy.parent().unwrap()).unwrap();
    std::fs::write(&decoy, vec![7u8; 16 << 20]).unwrap();
    size
}

/// The legacy builder's "Sending build context to Docker daemon  12.74MB".
fn context_bytes(build_output: &str) -> Option<f64> {
    let line = build_output
        .lines()
        .find(|l| l.starts_with("Sending build context"))?;
    let size = line.split_whitespace().last()?;
    let split = size.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = size.split_at(split);
    let mult = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some(num.parse::<f64>().ok()? * mult)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", "--rm", "--label", "halab.test=dockerfile"];
    all.extend_from_slice(args);
    let o = docker(&all);
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr),
    )
}

#[test]
fn dockerfile_packages_halab_for_ci() {
    if let Some(why) = missing_prerequisite() {
        if in_ci() {
            panic!("CI=true: {why}");
        }
        eprintln!("SKIP: {why}");
        return;
    }
    let ctx = tempfile::tempdir().unwrap();
    let bin_size = build_context(ctx.path());
    let _guard = ImageGuard;

    // The legacy builder (engine 20.10 without buildx) reports the context
    // size; BuildKit does not, and then that check is left out.
    let t = Instant::now();
    let build = Command::new("docker")
        .args(["build", "--tag", TAG, "--build-arg"])
        .arg(format!("BASE={BASE}"))
        .args(["--build-arg", "HALAB_BIN=target/release/halab"])
        .arg(ctx.path())
        .output()
        .unwrap();
    let out = format!("{}{}", text(&build.stdout), text(&build.stderr));
    assert!(build.status.success(), "docker build failed:\n{out}");
    eprintln!("image built in {:.1?}", t.elapsed());
    if let Some(sent) = context_bytes(&out) {
        // The binary and a few kB of labs and templates; not the 16 MB decoy.
        assert!(
            sent < bin_size as f64 + 4e6,
            "build context {sent} bytes for a {bin_size}-byte binary: .dockerignore lets too much through\n{out}"
        );
    }
    let size = docker(&["image", "inspect", "--format", "{{.Size}}", TAG]);
    eprintln!("image size {} bytes", text(&size.stdout).trim());

    let (code, stdout, stderr) = run(&[TAG, "--version"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, format!("halab {}\n", env!("CARGO_PKG_VERSION")).as_str()),
        "{stderr}"
    );

    // The shipped seed lab is the default (HALAB_LAB) and renders inside.
    let (code, stdout, stderr) = run(&[TAG, "render", "--out", "/tmp/x"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let listed: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    for f in [
        "Dockerfile",
        "docker-compose.yml",
        "entrypoint.sh",
        "haproxy.cfg",
        "nodes/nginx_master/keepalived.conf",
        "nodes/nginx_master/index.html",
        "nodes/nginx_slave/keepalived.conf",
        "nodes/nginx_slave/index.html",
    ] {
        assert!(
            listed.contains(&Path::new("/tmp/x").join(f)),
            "render did not list /tmp/x/{f}:\n{stdout}"
        );
    }

    // Through the mounted socket the CLI reaches the host's engine: a lab
    // that is not up is reported as such (exit 2), not as a lost engine.
    let name = "itest-dockerfile-none";
    let mount = format!("{SOCKET}:{SOCKET}");
    let (code, stdout, stderr) = run(&["-v", &mount, TAG, "status", "--name", name]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("lab `{name}` is not up")),
        "{stderr}"
    );
    assert!(
        stderr.contains("/usr/share/halab/labs/nginx-keepalived.yaml"),
        "the hint names the lab file of the image: {stderr}"
    );
    // Without the socket the same command says the engine is unreachable,
    // so the check above did go through the socket.
    let (code, _, stderr) = run(&[TAG, "status", "--name", name]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot reach the Docker engine"),
        "{stderr}"
    );
}

#[test]
fn context_size_is_read_from_the_legacy_builder() {
    let out = "DEPRECATED: ...\n\nSending build context to Docker daemon  12.74MB\nStep 1/11";
    assert_eq!(context_bytes(out), Some(12.74e6));
    assert_eq!(
        context_bytes("Sending build context to Docker daemon  3.072kB"),
        Some(3072.0)
    );
    assert_eq!(context_bytes("#1 [internal] load build definition"), None);
}
