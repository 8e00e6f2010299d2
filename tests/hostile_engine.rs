//! halab against engines that misbehave: a local server stands in for the
//! Docker engine (`DOCKER_HOST=tcp://127.0.0.1:PORT`) and answers garbage,
//! nothing, an endless body, a stall after its status line, bad JSON, an
//! old API version or a 404 on `/version`. Each time `halab status` must
//! exit 2 with a clear message, within its deadline, in bounded memory.
//! No real engine is involved.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the fake engine does with every request.
#[derive(Clone, Copy)]
enum Misbehaviour {
    Garbage,
    Nothing,
    EndlessBody,
    StallAfterStatus,
    BadJson,
    OldApi,
    NotFound,
    /// Answers `/version` like engine 20.10, then an endless body.
    EndlessAfterVersion,
}

/// The deadline halab is given (`HALAB_ENGINE_TIMEOUT`): short, so the
/// tests are quick; the default (15 s) is the same code path.
const DEADLINE: Duration = Duration::from_secs(2);
/// Peak resident memory allowed to halab.
const MAX_RSS_KB: u64 = 200 * 1024;

fn answer<S: Read + Write>(mut stream: S, how: Misbehaviour) {
    // Read the request head (halab's GETs have no body).
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let json = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let hold = || std::thread::sleep(Duration::from_secs(60));
    let asks_version = head.starts_with(b"GET /version ");
    let how = match how {
        Misbehaviour::EndlessAfterVersion if asks_version => {
            let body = r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}"#;
            let _ = stream.write_all(json(body).as_bytes());
            return;
        }
        Misbehaviour::EndlessAfterVersion => Misbehaviour::EndlessBody,
        other => other,
    };
    match how {
        Misbehaviour::Garbage => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
        }
        Misbehaviour::Nothing => hold(),
        Misbehaviour::EndlessBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, " ".repeat(1 << 16));
            while stream.write_all(chunk.as_bytes()).is_ok() {}
        }
        Misbehaviour::StallAfterStatus => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
            hold();
        }
        Misbehaviour::BadJson => {
            let _ = stream.write_all(json("{\"ApiVersion\": 1.41,").as_bytes());
        }
        Misbehaviour::OldApi => {
            let body = r#"{"Version":"1.12.6","ApiVersion":"1.24","MinAPIVersion":"1.12"}"#;
            let _ = stream.write_all(json(body).as_bytes());
        }
        Misbehaviour::NotFound => {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
        Misbehaviour::EndlessAfterVersion => unreachable!("mapped above"),
    }
}

/// Starts the fake engine; its `tcp://` address.
fn fake_engine(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, how));
        }
    });
    format!("tcp://{addr}")
}

struct Run {
    code: i32,
    stderr: String,
    took: Duration,
    peak_rss_kb: u64,
}

/// The peak resident set of a running process, from /proc.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// `halab status` against `host`, its memory sampled while it runs; killed
/// (and the test failed) if it outlives three deadlines.
fn status_against(host: &str) -> Run {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_halab"))
        .args(["status", "--lab", "labs/nginx-keepalived.yaml"])
        .current_dir(&repo)
        .env("DOCKER_HOST", host)
        .env("HALAB_ENGINE_TIMEOUT", "2s")
        .env_remove("HALAB_LAB")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("halab runs");
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE * 3 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("halab still ran after {:?}", started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        code: status.code().expect("an exit code, not a signal"),
        stderr,
        took,
        peak_rss_kb: peak,
    }
}

/// Runs the case and checks what every case shares: exit 2, bounded
/// memory, an answer within the deadline (plus start-up slack).
fn refused(how: Misbehaviour) -> Run {
    let host = fake_engine(how);
    let mut run = status_against(&host);
    run.stderr = run.stderr.replace(&host, "tcp://127.0.0.1:PORT");
    eprintln!(
        "exit {} in {:?}, peak RSS {} kB",
        run.code, run.took, run.peak_rss_kb
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.peak_rss_kb > 0 && run.peak_rss_kb <= MAX_RSS_KB,
        "peak RSS {} kB",
        run.peak_rss_kb
    );
    assert!(
        run.took < DEADLINE + Duration::from_secs(2),
        "{:?}",
        run.took
    );
    run
}

#[test]
fn an_engine_answering_garbage_is_not_a_docker_engine() {
    insta::assert_snapshot!(refused(Misbehaviour::Garbage).stderr);
}

#[test]
fn an_engine_that_never_answers_is_left_after_the_deadline() {
    let run = refused(Misbehaviour::Nothing);
    assert!(run.took >= DEADLINE, "{:?}", run.took);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn an_endless_body_is_cut_in_bounded_memory() {
    insta::assert_snapshot!(refused(Misbehaviour::EndlessBody).stderr);
}

#[test]
fn a_stall_after_the_status_line_is_left_after_the_deadline() {
    let run = refused(Misbehaviour::StallAfterStatus);
    assert!(run.took >= DEADLINE, "{:?}", run.took);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn bad_json_does_not_ask_to_start_dockerd() {
    let run = refused(Misbehaviour::BadJson);
    assert!(!run.stderr.contains("start dockerd"), "{}", run.stderr);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn an_old_engine_is_refused_by_version() {
    insta::assert_snapshot!(refused(Misbehaviour::OldApi).stderr);
}

#[test]
fn a_404_on_version_names_its_cause() {
    insta::assert_snapshot!(refused(Misbehaviour::NotFound).stderr);
}

#[test]
fn an_endless_list_after_a_good_negotiation_is_cut_too() {
    insta::assert_snapshot!(refused(Misbehaviour::EndlessAfterVersion).stderr);
}

#[test]
fn a_silent_unix_socket_is_left_after_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, Misbehaviour::StallAfterStatus));
        }
    });
    let host = format!("unix://{}", path.display());
    let run = status_against(&host);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.took >= DEADLINE, "{:?}", run.took);
    assert!(
        run.took < DEADLINE + Duration::from_secs(2),
        "{:?}",
        run.took
    );
    insta::assert_snapshot!(run.stderr.replace(&host, "unix://SOCKET"));
}

#[test]
fn a_bad_engine_timeout_is_refused_before_connecting() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_halab"))
        .args(["status", "--lab", "labs/nginx-keepalived.yaml"])
        .current_dir(&repo)
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .env("HALAB_ENGINE_TIMEOUT", "soon")
        .env_remove("HALAB_LAB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(String::from_utf8(out.stderr).unwrap());
}
