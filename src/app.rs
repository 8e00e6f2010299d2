//! Runs one parsed command: loads the lab, calls the module that owns the
//! work, prints the result, and says which exit code it earned.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use crate::chaos::{self, Phase, RunOptions};
use crate::cli::{Cli, Command, DataFormat, ImageCommand, LabArgs, ReportArgs, RunArgs};
use crate::engine::docker::DockerEngine;
use crate::engine::Engine;
use crate::lab::{self, Lab, ScenarioName};
use crate::scenario::Params;
use crate::spec::{Choices, RunSpec};
use crate::store::{RunRecord, Store, StoreError};
use crate::ui::{print, Versioned};
use crate::verdict::{self, Status};
use crate::{checks, image, lifecycle, render, report, shipped, sweep};

/// Every budget met (or nothing to judge).
pub const EXIT_OK: u8 = 0;
/// A scenario missed a budget, or a reported run had.
pub const EXIT_BUDGET: u8 = 1;
/// halab could not do its job: bad input, engine unreachable, lab not up.
pub const EXIT_HARNESS: u8 = 2;

/// How a command that ran to its end came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    BudgetMissed,
    /// The harness ran but could not judge (an invalid or aborted run).
    NotJudged,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => EXIT_OK,
            Outcome::BudgetMissed => EXIT_BUDGET,
            Outcome::NotJudged => EXIT_HARNESS,
        }
    }

    /// The worse of two outcomes (a harness failure outranks a miss).
    fn and(self, other: Outcome) -> Outcome {
        if other.code() > self.code() {
            other
        } else {
            self
        }
    }
}

/// What a command itself fails at or refuses; the modules' own errors say
/// the rest. Each variant's text is its first line (what failed) and a fix;
/// its cause is chained, and printed by [`error_text`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start the async runtime\n  fix: the machine is out of threads or memory; stop other work and retry")]
    Runtime(#[source] std::io::Error),
    #[error("the daemons refused the rendered files of lab `{lab}` (see above)\n  fix: correct the lab file or templates: each FAIL line names the daemon and what it refused")]
    DaemonsRefused { lab: String },
    #[error("`down` needs the lab's name, and the lab file does not give it\n  fix: give `--name NAME` to remove the lab by label")]
    DownNeedsName(#[source] lab::LabError),
    #[error("before `{scenario}`: the lab did not return to its steady state\n  fix: `halab status` shows what is off; `halab down` then `halab up` restores the lab")]
    NotSteady {
        scenario: ScenarioName,
        #[source]
        source: lifecycle::LifecycleError,
    },
    #[error("interrupted: `up` of lab `{lab}` stopped; removed what it had made: {}\n  fix: `halab up` starts again (images already built are kept)", if removed.is_empty() { "nothing yet".to_string() } else { removed.join(", ") })]
    InterruptedUp { lab: String, removed: Vec<String> },
    #[error("interrupted: `up` of lab `{lab}` stopped, and not everything it made could be removed\n  fix: `halab down --name {lab}` removes the rest (by label)")]
    InterruptedLeft { lab: String },
    #[error("interrupted: `up` of lab `{lab}` stopped part-way through changing the running lab\n  fix: `halab up` again finishes it; `halab down --name {lab}` removes the lab")]
    InterruptedUpdate { lab: String },
    #[error("cannot write `{}`\n  fix: check that its folder exists and is writable, or pass another", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An error and its causes as printed (see [`crate::ui::error_text`]).
pub fn error_text(err: &anyhow::Error) -> String {
    crate::ui::error_text(err.as_ref())
}

pub fn run(cli: Cli) -> Result<Outcome> {
    let quiet = cli.quiet || !std::io::stderr().is_terminal();
    match cli.command {
        Command::Render { lab, out, force } => render_cmd(&lab, out.as_deref(), force),
        Command::Validate { lab, format } => block_on(validate_cmd(&lab, format)),
        Command::Report(args) => report_cmd(&args),
        Command::Up {
            lab,
            timeout,
            no_wait,
            no_lint,
        } => block_on(up_cmd(&lab, timeout, !no_wait, quiet, !no_lint)),
        Command::Lint { lab, format } => block_on(lint_cmd(&lab, format)),
        Command::Import(opts) => import_cmd(&opts),
        Command::Down { lab, images } => block_on(down_cmd(&lab, images)),
        Command::Status { lab, format, json } => {
            let format = if json { DataFormat::Json } else { format };
            block_on(status_cmd(&lab, format))
        }
        Command::Logs { node, lab, follow } => block_on(logs_cmd(&lab, node.as_deref(), follow)),
        Command::Image(ImageCommand::Build { lab, force }) => {
            block_on(image_build_cmd(&lab, force, quiet))
        }
        Command::Sweep {
            scenario,
            lab,
            grid,
            runs,
            options,
            interval,
            runs_dir,
        } => {
            let run = RunArgs {
                budget: None,
                interval,
                no_heal: false,
                strict: false,
                runs_dir,
                set: options,
            };
            block_on(sweep_cmd(&lab, scenario, &grid, runs, &run, quiet))
        }
        Command::Tune {
            lab,
            scenarios,
            advert,
            runs,
            soak,
            stress,
            interval,
            out,
            force,
            runs_dir,
        } => {
            let opts = TuneOptions {
                scenarios,
                advert,
                runs,
                soak,
                stress,
                out,
                force,
                run: RunArgs {
                    budget: None,
                    interval,
                    no_heal: false,
                    strict: false,
                    runs_dir,
                    set: Vec::new(),
                },
            };
            block_on(tune_cmd(&lab, &opts, quiet))
        }
        Command::Chaos { scenario, lab, run } => {
            block_on(chaos_cmd(&lab, &run, &[scenario], false, quiet))
        }
        Command::Test {
            lab,
            run,
            up,
            scenarios,
        } => {
            // Empty: the default set of the lab's shape (known once loaded).
            block_on(test_cmd(&lab, &run, &scenarios, up, quiet))
        }
        Command::Init { name, out } => {
            let path = shipped::init(&name, out.as_deref())?;
            print(format!(
                "wrote {}\n  next: edit it, then `halab up --lab {}`",
                path.display(),
                path.display()
            ))?;
            Ok(Outcome::Success)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "halab", &mut script);
            std::io::Write::write_all(&mut crate::ui::Stdout, &script)?;
            Ok(Outcome::Success)
        }
        Command::Man { out } => man_cmd(out.as_deref()),
    }
}

fn man_cmd(out: Option<&Path>) -> Result<Outcome> {
    let cmd = <Cli as clap::CommandFactory>::command();
    match out {
        None => clap_mangen::Man::new(cmd).render(&mut crate::ui::Stdout)?,
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(cmd, dir))
                .map_err(|source| CommandError::Write {
                    path: dir.to_path_buf(),
                    source,
                })?;
            print(format!("wrote man pages into {}", dir.display()))?;
        }
    }
    Ok(Outcome::Success)
}

fn block_on<F: std::future::Future<Output = Result<Outcome>>>(f: F) -> Result<Outcome> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?
        .block_on(f)
}

fn load_lab(args: &LabArgs) -> Result<Lab> {
    Ok(lab::load_with(&args.lab, &args.overrides())?)
}

async fn connect() -> Result<Arc<dyn Engine>> {
    Ok(Arc::new(DockerEngine::connect().await?))
}

/// Default output folder of a lab's rendered files.
pub fn default_out(lab: &Lab) -> PathBuf {
    Path::new(".halab").join(lab.name())
}

fn render_cmd(args: &LabArgs, out: Option<&Path>, force: bool) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let rendered = render::render(&lab, args.templates.as_deref())?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(&lab));
    let written = render::write(&rendered, &out, force)?;
    for path in written {
        print(path.display())?;
    }
    Ok(Outcome::Success)
}

/// What `validate --format json` prints (see docs/json.md).
#[derive(serde::Serialize)]
struct ValidateDoc<'a> {
    lab: &'a str,
    file: String,
    valid: bool,
    /// Why the daemons' checks did not run, when they did not.
    daemon_checks_skipped: Option<String>,
    daemon_checks: Vec<CheckDoc<'a>>,
}

#[derive(serde::Serialize)]
struct CheckDoc<'a> {
    command: &'a str,
    passed: bool,
    output: &'a str,
}

async fn validate_cmd(args: &LabArgs, format: DataFormat) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let rendered = render::render(&lab, args.templates.as_deref())?;
    let table = format == DataFormat::Table;
    if table {
        print(format!(
            "{}: lab `{}` is valid",
            lab.source().display(),
            lab.name()
        ))?;
    }
    // Skipped checks are a note for the person, on stderr: stdout carries
    // only the result.
    let skipped = match DockerEngine::connect().await {
        Err(e) => Err(format!("daemon checks skipped: {}", crate::ui::error_text(&e))),
        Ok(engine) => match checks::check_rendered(&engine, &lab, &rendered).await? {
            None => Err(format!(
                "daemon checks skipped: base image `{}` is not in the engine\n  fix: `halab image build` makes it (offline, with mmdebstrap)",
                lab.spec().image.base
            )),
            Some(checks) => Ok(checks),
        },
    };
    let checks = match &skipped {
        Ok(checks) => checks.as_slice(),
        Err(note) => {
            eprintln!("{note}");
            &[]
        }
    };
    let ok = checks.iter().all(|c| c.passed);
    if table {
        for c in checks {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            print(format!("{mark} {}", c.command))?;
            if !c.passed {
                for line in c.output.lines() {
                    print(format!("     {line}"))?;
                }
            }
        }
    } else {
        let doc = ValidateDoc {
            lab: lab.name(),
            file: lab.source().display().to_string(),
            valid: ok,
            daemon_checks_skipped: skipped.as_ref().err().map(|n| {
                n.trim_start_matches("daemon checks skipped: ")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            }),
            daemon_checks: checks
                .iter()
                .map(|c| CheckDoc {
                    command: &c.command,
                    passed: c.passed,
                    output: &c.output,
                })
                .collect(),
        };
        print(serde_json::to_string_pretty(&Versioned::new(&doc))?)?;
    }
    if ok {
        Ok(Outcome::Success)
    } else {
        Err(CommandError::DaemonsRefused {
            lab: lab.name().to_string(),
        }
        .into())
    }
}

async fn image_build_cmd(args: &LabArgs, force: bool, quiet: bool) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let engine = connect().await?;
    let log = move |line: &str| {
        if !quiet {
            eprintln!("  {line}");
        }
    };
    let base = image::ensure_base(engine.as_ref(), &lab.spec().image.base, force, &log).await?;
    print(format!(
        "base image {} ({})",
        lab.spec().image.base,
        base.id
            .trim_start_matches("sha256:")
            .get(..12)
            .unwrap_or(&base.id)
    ))?;
    Ok(Outcome::Success)
}

async fn up_cmd(
    args: &LabArgs,
    timeout: Duration,
    wait: bool,
    quiet: bool,
    lint: bool,
) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let rendered = render::render(&lab, args.templates.as_deref())?;
    if lint {
        lint_gate(&lab, &rendered)?;
    }
    // The rendered files stay on disk too: they are a working compose project.
    // `.halab/<lab>/` is halab's own folder, also when an older halab wrote
    // it without the marker.
    render::write(&rendered, &default_out(&lab), true)?;
    let engine = connect().await?;
    let opts = lifecycle::UpOptions {
        timeout,
        wait,
        quiet,
    };
    // A lab with no container before this `up` is wholly this `up`'s: on
    // Ctrl-C all of it can go. One that was there is only said to be
    // part-way, since its old members are the user's.
    let present = crate::engine::lab_containers(engine.as_ref(), lab.name()).await?;
    let fresh = present.is_empty();
    sweep_left_rules(engine.as_ref(), &present).await?;
    let report = tokio::select! {
        r = lifecycle::up(engine.as_ref(), &lab, &rendered, &opts) => r?,
        _ = tokio::signal::ctrl_c() => {
            if fresh && !quiet {
                // An image build under way takes seconds to wind down.
                eprintln!("interrupted: taking back what this `up` made…");
            }
            return Err(interrupted_up(engine.as_ref(), lab.name(), fresh).await.into())
        }
    };
    if report.already_up {
        print(format!(
            "lab `{}` is already up: {}",
            report.lab, report.url
        ))?;
    } else {
        let after = report
            .steady_after
            .map(|d| {
                format!(
                    " ({} after start)",
                    verdict::fmt_micros(d.as_micros() as u64)
                )
            })
            .unwrap_or_default();
        print(format!("lab `{}` is up{after}: {}", report.lab, report.url))?;
        let (r, s, k) = (&report.replaced, &report.started, &report.kept);
        for (what, names) in [("recreated", r), ("started", s), ("kept", k)] {
            if !names.is_empty() {
                print(format!("  {what}: {}", names.join(", ")))?;
            }
        }
    }
    match (&report.answer.node, &report.answer.backend) {
        (Some(lb), Some(web)) => {
            print(format!("  {} answers through {lb} from {web}", report.url))?
        }
        (Some(node), None) => {
            let page = lab.node(node).map(|n| n.page.as_str()).unwrap_or("");
            print(format!("  {} answers {page} ({node})", report.url))?;
        }
        _ => {}
    }
    let flags = match args.to_repeat() {
        f if f.is_empty() => f,
        f => format!(" {f}"),
    };
    print(format!(
        "  next: `halab status{flags}`, `halab chaos {}{flags}`, `halab down{flags}`",
        crate::scenario::first_to_try(lab.shape()),
    ))?;
    Ok(Outcome::Success)
}

/// Deletes the firewall rules a killed `chaos` left in the lab's running
/// nodes (a partition's VRRP drop survives halab), and says so.
async fn sweep_left_rules(
    engine: &dyn Engine,
    present: &[crate::engine::ContainerInfo],
) -> Result<()> {
    let script = crate::scenario::sweep_tagged_rules_script();
    for c in present {
        let node = c.labels.contains_key(crate::engine::LABEL_NODE);
        if !node || c.state != crate::engine::ContainerState::Running {
            continue;
        }
        let out = engine.exec(&c.name, &["sh", "-c", &script]).await?;
        match out.stdout.trim().parse::<u32>() {
            Ok(0) => {}
            Ok(n) => print(format!(
                "removed {n} iptables rule{} that an interrupted `halab chaos` left in {}",
                if n == 1 { "" } else { "s" },
                c.name
            ))?,
            // Not fatal: the lab may still come up; the rules stay visible
            // with `iptables -S` in the node.
            Err(_) => eprintln!(
                "warning: could not look for halab's iptables rules in {}: {}",
                c.name,
                out.stderr.trim()
            ),
        }
    }
    Ok(())
}

/// `up` refuses a lab whose configs have lint errors (warnings are shown).
fn lint_gate(lab: &Lab, rendered: &render::Rendered) -> Result<()> {
    let findings = crate::lint::lab(lab, rendered, &default_out(lab))?;
    let (errors, _) = crate::lint::counts(&findings);
    if !findings.is_empty() {
        eprint!("{}", crate::lint::text(&findings));
    }
    if errors > 0 {
        bail!(
            "lint found {errors} error{} in the configs of lab `{}` (listed above): not started\n  fix: correct them (`halab import --fix` writes corrected copies of an imported project), or pass `--no-lint` to start it anyway",
            if errors == 1 { "" } else { "s" },
            lab.name()
        );
    }
    Ok(())
}

/// After Ctrl-C stopped an `up` (its future dropped mid-call): removes
/// what it made when the lab was new, and says what is left either way.
async fn interrupted_up(engine: &dyn Engine, name: &str, fresh: bool) -> CommandError {
    if !fresh {
        return CommandError::InterruptedUpdate { lab: name.into() };
    }
    let removed = lifecycle::down(engine, name, false).await;
    // A create the engine finished after the call was dropped is caught by
    // looking again.
    let left = crate::engine::lab_containers(engine, name).await;
    match (removed, left) {
        (Ok(r), Ok(left)) if left.is_empty() => CommandError::InterruptedUp {
            lab: name.into(),
            removed: [r.containers, r.networks].concat(),
        },
        _ => CommandError::InterruptedLeft { lab: name.into() },
    }
}

async fn lint_cmd(args: &LabArgs, format: crate::cli::LintFormat) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let rendered = render::render(&lab, args.templates.as_deref())?;
    let findings = crate::lint::lab(&lab, &rendered, &default_out(&lab))?;
    // The daemons' own checks, where an engine and the base image are there.
    let (daemon, skipped) = match DockerEngine::connect().await {
        Err(e) => (None, Some(e.to_string())),
        Ok(engine) => match checks::check_rendered(&engine, &lab, &rendered).await? {
            Some(c) => (Some(c), None),
            None => (
                None,
                Some(format!(
                    "base image `{}` is not in the engine (`halab image build` makes it)",
                    lab.spec().image.base
                )),
            ),
        },
    };
    let (errors, warnings) = crate::lint::counts(&findings);
    let failed = daemon.iter().flatten().filter(|c| !c.passed).count();
    match format {
        crate::cli::LintFormat::Json => {
            let checks: Option<Vec<_>> = daemon.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| {
                        serde_json::json!({
                            "command": c.command, "passed": c.passed, "output": c.output,
                        })
                    })
                    .collect()
            });
            let doc = serde_json::json!({
                "lab": lab.name(),
                "findings": findings,
                "errors": errors,
                "warnings": warnings,
                "daemon_checks": checks,
                "daemon_checks_skipped": skipped,
            });
            print(serde_json::to_string_pretty(&crate::ui::Versioned::new(
                &doc,
            ))?)?;
        }
        crate::cli::LintFormat::Table => {
            std::io::Write::write_all(
                &mut crate::ui::Stdout,
                crate::lint::text(&findings).as_bytes(),
            )?;
            match (&daemon, &skipped) {
                (Some(cs), _) => {
                    for c in cs {
                        let mark = if c.passed { "ok  " } else { "FAIL" };
                        print(format!("{mark} {}", c.command))?;
                        if !c.passed {
                            for line in c.output.lines() {
                                print(format!("     {line}"))?;
                            }
                        }
                    }
                }
                (None, Some(why)) => eprintln!("daemon checks skipped: {why}"),
                (None, None) => {}
            }
        }
    }
    Ok(if errors > 0 || failed > 0 {
        Outcome::BudgetMissed
    } else {
        Outcome::Success
    })
}

fn import_cmd(opts: &crate::import::ImportOptions) -> Result<Outcome> {
    let imported = crate::import::import(opts)?;
    let f = &imported.findings;
    print(format!(
        "{}: {} finding{}",
        imported.compose_file.display(),
        f.len(),
        if f.len() == 1 { "" } else { "s" }
    ))?;
    std::io::Write::write_all(&mut crate::ui::Stdout, crate::lint::text(f).as_bytes())?;
    if !imported.notes.is_empty() {
        print("\nwhat halab does differently (no file changed):")?;
        for n in &imported.notes {
            print(format!("  - {n}"))?;
        }
    }
    if opts.fix {
        print("\ncorrected copies (your files are unchanged):")?;
        for c in &imported.changes {
            print(format!(
                "  {} ← {}: {}\n      why: {}",
                c.copy.display(),
                c.at,
                c.what,
                c.why
            ))?;
        }
    }
    print(format!("\nwrote {}", imported.lab_file.display()))?;
    // What is left: the new lab, linted as `up` will lint it.
    let lab = lab::load(&imported.lab_file)?;
    let rendered = render::render(&lab, None)?;
    let left = crate::lint::lab(&lab, &rendered, &default_out(&lab))?;
    let (errors, _) = crate::lint::counts(&left);
    let lab_arg = format!("--lab {}", imported.lab_file.display());
    if errors > 0 {
        print(format!(
            "\nthe lab still has {errors} lint error{}: `halab up {lab_arg}` refuses it until they are fixed{}",
            if errors == 1 { "" } else { "s" },
            if opts.fix { " by hand" } else { " (`--fix` corrects what it can in copies)" }
        ))?;
        Ok(Outcome::BudgetMissed)
    } else {
        print(format!("\nthe lab lints clean; next: `halab lint {lab_arg}`, `halab up {lab_arg}`, `halab chaos stop-master {lab_arg}`"))?;
        Ok(Outcome::Success)
    }
}

async fn down_cmd(args: &LabArgs, images: bool) -> Result<Outcome> {
    // `down` works from labels alone: a lab file that no longer parses, or
    // is gone, must not keep its objects alive.
    let name = match (&args.name, lab::load_with(&args.lab, &args.overrides())) {
        (Some(n), _) => n.clone(),
        (None, Ok(lab)) => lab.name().to_string(),
        (None, Err(e)) => return Err(CommandError::DownNeedsName(e).into()),
    };
    let engine = connect().await?;
    let report = lifecycle::down(engine.as_ref(), &name, images).await?;
    if report.is_empty() {
        print(format!("lab `{name}`: nothing to remove"))?;
    } else {
        for c in &report.containers {
            print(format!("removed container {c}"))?;
        }
        for n in &report.networks {
            print(format!("removed network {n}"))?;
        }
        for i in &report.images {
            print(format!("removed image {i}"))?;
        }
    }
    Ok(Outcome::Success)
}

async fn status_cmd(args: &LabArgs, format: DataFormat) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let engine = connect().await?;
    let status = lifecycle::status(engine.as_ref(), &lab).await?;
    match format {
        DataFormat::Json => print(serde_json::to_string_pretty(&Versioned::new(&status))?)?,
        DataFormat::Table => print(lifecycle::status_table(&status))?,
    }
    // A lab that is not steady is a finding, not a harness failure: the
    // lab is broken and halab said so.
    if status.steadiness.is_steady() {
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::BudgetMissed)
    }
}

async fn logs_cmd(args: &LabArgs, node: Option<&str>, follow: bool) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let engine = connect().await?;
    let mut out = crate::ui::Stdout;
    let logs = lifecycle::logs(engine.as_ref(), &lab, node, follow, None, &mut out);
    tokio::select! {
        r = logs => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Outcome::Success)
}

async fn chaos_cmd(
    args: &LabArgs,
    run: &RunArgs,
    scenarios: &[ScenarioName],
    between_wait: bool,
    quiet: bool,
) -> Result<Outcome> {
    let lab = load_lab(args)?;
    let scenarios = if scenarios.is_empty() {
        crate::scenario::default_set_for(lab.shape())
    } else {
        scenarios.to_vec()
    };
    // Every scenario fits before the first runs.
    for &scenario in &scenarios {
        crate::scenario::fit(scenario, &lab, &Params::parse(scenario, &run.set)?)?;
    }
    let engine = connect().await?;
    let store = Store::at(&run.runs_dir);
    let mut records = Vec::new();
    let mut outcome = Outcome::Success;
    for (i, &scenario) in scenarios.iter().enumerate() {
        if between_wait && i > 0 {
            // The previous scenario healed; let the lab settle before the next.
            lifecycle::wait_steady(engine.as_ref(), &lab, Duration::from_secs(60))
                .await
                .map_err(|source| CommandError::NotSteady { scenario, source })?;
        }
        let mut record = run_one(engine.clone(), &lab, scenario, run, quiet).await?;
        let path = store.save(&mut record)?;
        outcome = outcome.and(judged_outcome(&record));
        eprintln!("stored {}", path.display());
        let interrupted = record.aborted;
        records.push(record);
        if interrupted {
            break;
        }
    }
    print(report::table(&records))?;
    Ok(outcome)
}

async fn test_cmd(
    args: &LabArgs,
    run: &RunArgs,
    scenarios: &[ScenarioName],
    up: bool,
    quiet: bool,
) -> Result<Outcome> {
    if up {
        let outcome = up_cmd(args, Duration::from_secs(60), true, quiet, true).await?;
        if outcome != Outcome::Success {
            return Ok(outcome);
        }
    }
    chaos_cmd(args, run, scenarios, true, quiet).await
}

/// `halab sweep`: every grid point on its own copy of the lab, brought up,
/// run `runs` times, and removed before the next (two cores do not run two
/// labs' timers well side by side).
async fn sweep_cmd(
    args: &LabArgs,
    scenario: ScenarioName,
    grid: &[String],
    runs: u32,
    run: &RunArgs,
    quiet: bool,
) -> Result<Outcome> {
    let points = sweep::points(&sweep::axes(grid)?);
    // Refused before any lab comes up.
    let base = load_lab(args)?;
    crate::scenario::fit(scenario, &base, &Params::parse(scenario, &run.set)?)?;
    let text = sweep::lab_text(&args.lab)?;
    let engine = connect().await?;
    let store = Store::at(&run.runs_dir);
    let batch = [Batch {
        scenario,
        set: run.set.clone(),
        runs,
    }];
    let mut records = Vec::new();
    let mut outcome = Outcome::Success;
    for (i, point) in points.iter().enumerate() {
        let lab = sweep::copy_at(&base, &text, &args.lab, args.subnet, i + 1, point)
            .with_context(|| format!("grid point {}", sweep::show(point)))?;
        eprintln!(
            "grid point {}/{}: {} (lab `{}`)",
            i + 1,
            points.len(),
            sweep::show(point),
            lab.name()
        );
        let copy = CopyRun {
            engine: &engine,
            lab: &lab,
            templates: args.templates.as_deref(),
            point,
            run,
            store: &store,
            quiet,
        };
        let done = copy.run(&batch, false).await?;
        for record in &done.records {
            outcome = outcome.and(judged_outcome(record));
        }
        records.extend(done.records);
        if done.interrupted {
            break;
        }
    }
    print(report::render(report::Format::Table, &records)?)?;
    Ok(outcome)
}

/// A scenario with its options (`--set` items), run `runs` times on a copy.
pub(crate) struct Batch {
    pub scenario: ScenarioName,
    pub set: Vec<String>,
    pub runs: u32,
}

/// What one copy ran, and whether Ctrl-C ended it.
pub(crate) struct CopyRuns {
    pub records: Vec<RunRecord>,
    pub interrupted: bool,
}

/// One copy of a lab (from [`sweep::copy_at`]) and where its runs go: the
/// one place sweep and tune bring a copy up, run on it and remove it.
pub(crate) struct CopyRun<'a> {
    pub engine: &'a Arc<dyn Engine>,
    pub lab: &'a Lab,
    pub templates: Option<&'a Path>,
    pub point: &'a sweep::Point,
    pub run: &'a RunArgs,
    pub store: &'a Store,
    pub quiet: bool,
}

impl CopyRun<'_> {
    /// Brings the copy up, runs `batches` in order (each run after the
    /// steady state, stored with the point), and removes the copy whatever
    /// happened, Ctrl-C included. `stop_on_miss`: stop at the first run
    /// that did not pass (a tune candidate is out at its first miss).
    pub async fn run(&self, batches: &[Batch], stop_on_miss: bool) -> Result<CopyRuns> {
        let (engine, lab) = (self.engine, self.lab);
        let rendered = render::render(lab, self.templates)?;
        let mut done = CopyRuns {
            records: Vec::new(),
            interrupted: false,
        };
        let work = async {
            let opts = lifecycle::UpOptions {
                timeout: Duration::from_secs(90),
                wait: true,
                quiet: self.quiet,
            };
            // Ctrl-C while the copy comes up or settles ends the work here;
            // during a run the runner heals and stores the run as aborted.
            let interrupted = tokio::select! {
                r = lifecycle::up(engine.as_ref(), lab, &rendered, &opts) => { r?; false }
                _ = tokio::signal::ctrl_c() => true,
            };
            if interrupted {
                done.interrupted = true;
                return Ok(());
            }
            for batch in batches {
                let run = RunArgs {
                    set: batch.set.clone(),
                    ..self.run.clone()
                };
                for _ in 0..batch.runs {
                    let settle =
                        lifecycle::wait_steady(engine.as_ref(), lab, Duration::from_secs(60));
                    tokio::select! {
                        r = settle => { r?; }
                        _ = tokio::signal::ctrl_c() => {
                            done.interrupted = true;
                            return Ok(());
                        }
                    }
                    let mut record =
                        run_one(engine.clone(), lab, batch.scenario, &run, self.quiet).await?;
                    record.spec.point = self.point.clone();
                    let path = self.store.save(&mut record)?;
                    eprintln!("stored {}", path.display());
                    let missed = record.verdict.status != Status::Pass;
                    done.interrupted = record.aborted;
                    done.records.push(record);
                    if done.interrupted || (stop_on_miss && missed) {
                        return Ok(());
                    }
                }
            }
            Ok::<(), anyhow::Error>(())
        }
        .await;
        // The copy goes whatever happened to it.
        let down = lifecycle::down(engine.as_ref(), lab.name(), true).await;
        work.with_context(|| format!("point {}", sweep::show(self.point)))?;
        down?;
        Ok(done)
    }
}

/// What `halab tune` was asked (see `cli::Command::Tune`).
struct TuneOptions {
    scenarios: Vec<ScenarioName>,
    advert: Option<String>,
    runs: u32,
    soak: Duration,
    stress: String,
    out: Option<PathBuf>,
    force: bool,
    run: RunArgs,
}

/// `halab tune`: each candidate on its own copy, slow → fast, until one
/// flaps in its soak; then the evidence, the recommendation, the file.
async fn tune_cmd(args: &LabArgs, opts: &TuneOptions, quiet: bool) -> Result<Outcome> {
    use crate::tune::{self, Decision, RunResult, Settings};
    // Everything is checked before any copy comes up.
    let base = load_lab(args)?;
    let text = sweep::lab_text(&args.lab)?;
    if let Some(out) = &opts.out {
        tune::check_out(out, &args.lab, opts.force)?;
    }
    let adverts = match &opts.advert {
        Some(list) => tune::parse_adverts(list)?,
        None => tune::ladder(base.spec().vrrp.version),
    };
    let candidates: Vec<Settings> = adverts.into_iter().map(Settings::derive).collect();
    let scenarios = if opts.scenarios.is_empty() {
        tune::default_scenarios(base.spec())
    } else {
        opts.scenarios.clone()
    };
    let soak = tune::soak_options(opts.soak, &opts.stress)?;
    let points: Vec<sweep::Point> = candidates.iter().map(Settings::point).collect();
    let labs = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            sweep::copy_at(&base, &text, &args.lab, args.subnet, i + 1, p).with_context(|| {
                format!(
                    "candidate advert {}: the lab refuses it or what tune derives from it",
                    p[tune::ADVERT]
                )
            })
        })
        .collect::<Result<Vec<Lab>>>()?;
    let batches: Vec<Batch> = scenarios
        .iter()
        .map(|&scenario| Batch {
            scenario,
            set: Vec::new(),
            runs: opts.runs,
        })
        .chain(std::iter::once(Batch {
            scenario: ScenarioName::Idle,
            set: soak,
            runs: 1,
        }))
        .collect();
    let engine = connect().await?;
    let store = Store::at(&opts.run.runs_dir);
    let mut decisions: Vec<Decision> = Vec::new();
    let mut results: Vec<Vec<RunResult>> = Vec::new();
    while let Some(i) = tune::next(&decisions, candidates.len()) {
        eprintln!(
            "candidate {}/{}: {} (lab `{}`)",
            i + 1,
            candidates.len(),
            sweep::show(&points[i]),
            labs[i].name()
        );
        let copy = CopyRun {
            engine: &engine,
            lab: &labs[i],
            templates: args.templates.as_deref(),
            point: &points[i],
            run: &opts.run,
            store: &store,
            quiet,
        };
        let done = copy.run(&batches, true).await?;
        let runs: Vec<RunResult> = done.records.iter().map(RunResult::of).collect();
        if done.interrupted {
            print(tune::table(&candidates, &results, &decisions))?;
            bail!(
                "interrupted: tune stopped at candidate {} (its copy `{}` was removed); the runs so far are stored\n  fix: run `halab tune` again (narrow it with `--advert`)",
                sweep::show(&points[i]),
                labs[i].name()
            );
        }
        let decision = tune::decide(&runs);
        eprintln!("  {}", decision.text());
        decisions.push(decision);
        results.push(runs);
    }
    print(tune::table(&candidates, &results, &decisions))?;
    let Some(best) = tune::recommend(&decisions) else {
        let judged = decisions
            .iter()
            .any(|d| !matches!(d, Decision::Unjudged { .. } | Decision::NotTried));
        print(format!(
            "\nno candidate qualified: {}",
            tune::relax(&candidates, &decisions)
        ))?;
        return Ok(if judged {
            Outcome::BudgetMissed
        } else {
            Outcome::NotJudged
        });
    };
    let chosen = candidates[best];
    let point = sweep::show(&chosen.point());
    print(format!("\nrecommended: {point}"))?;
    let Some(out) = &opts.out else {
        print(format!(
            "  write it into a copy of the lab with `--out FILE`, or try it: `halab sweep kill-master --lab {} {}`",
            args.lab.display(),
            chosen
                .point()
                .iter()
                .map(|(k, v)| format!("--set {k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ))?;
        return Ok(Outcome::Success);
    };
    let scenario_runs = results[best]
        .iter()
        .filter(|r| r.scenario != ScenarioName::Idle);
    let why = tune::Why {
        source: &args.lab.display().to_string(),
        when: &humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        before: Settings::of(base.spec()),
        chosen,
        tried: &candidates[..decisions.len()],
        scenarios: &scenarios,
        runs: opts.runs,
        worst_answer: scenario_runs.clone().filter_map(|r| r.worst_answer).max(),
        failed: scenario_runs.map(|r| r.failed).max().unwrap_or(0),
        soak: opts.soak,
        stress: &opts.stress,
    };
    // Checked again: the file may have appeared during the search.
    tune::check_out(out, &args.lab, opts.force)?;
    std::fs::write(out, tune::tuned_file(&text, &why)?).map_err(|source| CommandError::Write {
        path: out.clone(),
        source,
    })?;
    // The same name, port and subnet as this search, on the tuned file.
    let tuned = LabArgs {
        lab: out.clone(),
        ..args.clone()
    };
    print(format!(
        "wrote {}\n  next: `halab test --up {}`",
        out.display(),
        tuned.to_repeat()
    ))?;
    Ok(Outcome::Success)
}

fn judged_outcome(record: &RunRecord) -> Outcome {
    match record.verdict.status {
        Status::Pass => Outcome::Success,
        Status::Fail => Outcome::BudgetMissed,
        // The lab is broken: halab did its job and says so.
        Status::InvalidBaseline => Outcome::BudgetMissed,
        Status::Invalid | Status::Aborted => Outcome::NotJudged,
    }
}

/// One scenario: build its spec, observe it, and make the record (which
/// judges the timeline by the spec).
async fn run_one(
    engine: Arc<dyn Engine>,
    lab: &Lab,
    scenario: ScenarioName,
    args: &RunArgs,
    quiet: bool,
) -> Result<RunRecord> {
    let choices = Choices {
        params: Some(Params::parse(scenario, &args.set)?),
        ..args.choices()
    };
    let spec = RunSpec::new(lab, scenario, &choices);
    // The runner is told what the spec says: the command line was applied
    // once, in `RunSpec::new`.
    let mut opts = RunOptions::for_lab(lab, scenario);
    opts.probe_interval = spec.interval;
    opts.probe_timeout = spec.timeout;
    opts.heal = spec.heal;
    opts.budget = spec.budget.clone();
    opts.plan = spec.plan.clone();

    let bar = progress_bar(quiet, scenario);
    let started = SystemTime::now();
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let observed = chaos::run(engine, lab, scenario, &opts, interrupt, |phase, p| {
        if phase == Phase::Done {
            bar.finish_and_clear();
        } else {
            bar.set_message(format!(
                "{}: {} requests, {} failed",
                phase.label(),
                p.requests,
                p.failed
            ));
        }
    })
    .await?;
    debug_assert_eq!(observed.plan, spec.plan, "the runner ran the spec's plan");
    Ok(RunRecord::new(
        lab,
        spec,
        observed.timeline,
        observed.aborted,
        started,
    ))
}

fn progress_bar(quiet: bool, scenario: ScenarioName) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_prefix(scenario.to_string());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed:>3} {msg}")
            .expect("static template"),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn report_cmd(args: &ReportArgs) -> Result<Outcome> {
    let store = Store::at(&args.runs_dir);
    if let Some(out) = &args.output {
        store.refuse_inside(out)?;
    }
    if let Some(pair) = &args.compare {
        let a = store.load(&pair[0])?;
        let b = store.load(&pair[1])?;
        emit(args, &report::compare(&a, &b))?;
        return Ok(Outcome::Success);
    }
    let mut runs: Vec<RunRecord> = if !args.runs.is_empty() {
        args.runs
            .iter()
            .map(|r| store.load(r))
            .collect::<Result<_, _>>()?
    } else {
        let found = store.read_all()?;
        for skipped in &found.skipped {
            eprintln!("warning: skipping a file: {skipped}");
        }
        let mut records: Vec<RunRecord> = found.records.into_iter().map(|(_, r)| r).collect();
        if !args.all {
            records = records.pop().into_iter().collect();
        }
        if records.is_empty() {
            return Err(StoreError::Empty {
                dir: store.dir().to_path_buf(),
            }
            .into());
        }
        records
    };
    if args.rejudge {
        rejudge(&mut runs);
    }
    if args.strict {
        for run in &mut runs {
            run.verdict = run.verdict.clone().strict();
        }
    }
    let text = report::render(args.format, &runs)?;
    emit(args, &text)?;
    let worst = runs
        .iter()
        .map(judged_outcome)
        .fold(Outcome::Success, Outcome::and);
    if args.no_fail || worst == Outcome::Success {
        Ok(Outcome::Success)
    } else {
        // A report that shows a failed or unjudged run fails the CI step.
        Ok(Outcome::BudgetMissed)
    }
}

/// Gives every run the verdict of its stored timeline under its stored
/// spec, and says on stderr where that differs from the stored verdict.
fn rejudge(runs: &mut [RunRecord]) {
    let mut differ = 0;
    for run in runs.iter_mut() {
        let fresh = run.rejudge();
        if fresh != run.verdict {
            differ += 1;
            eprintln!("{}", report::verdict_changes(&run.id, &run.verdict, &fresh));
        }
        run.verdict = fresh;
    }
    eprintln!(
        "re-judged {} run{}: {} as stored, {differ} differ{}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        runs.len() - differ,
        if differ == 1 { "s" } else { "" }
    );
}

fn emit(args: &ReportArgs, text: &str) -> Result<()> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|source| CommandError::Write {
                path: path.clone(),
                source,
            })?;
            eprintln!("wrote {}", path.display());
        }
        None => print(text)?,
    }
    Ok(())
}
