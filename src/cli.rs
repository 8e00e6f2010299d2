//! The command line: every verb and flag, with its help text beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::Ipv4Net;

use crate::lab::{Overrides, ScenarioName, DEFAULT_LAB};
pub use crate::report::Format;
use crate::spec::Choices;

/// Render, start, break and judge an nginx + keepalived + HAProxy lab.
///
/// A typical session: `halab up` (builds images offline and starts the lab),
/// `halab chaos stop-master` (stops the master and watches port 8000 switch
/// to the backup), `halab report`, `halab down`.
///
/// Exit codes: 0 every budget met, 1 a budget missed, 2 halab could not do
/// its job (bad lab file, engine unreachable, fault not injected).
#[derive(Debug, Parser)]
#[command(name = "halab", version, max_term_width = 100)]
pub struct Cli {
    /// No progress output (also off when stderr is not a terminal).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write every artifact of a lab (compose file, Dockerfile, configs, pages).
    #[command(after_help = "Examples:
  halab render                        the seed lab into .halab/nginx-keepalived/
  halab render --lab fast-failover --out /tmp/fast
  halab render --lab my-lab.yaml --templates my-templates/")]
    Render {
        #[command(flatten)]
        lab: LabArgs,
        /// Output folder [default: .halab/<lab-name>/]. It is replaced whole:
        /// it must be new, empty, or written by halab before.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace the output folder even if halab did not write it.
        #[arg(long)]
        force: bool,
    },
    /// Check a lab file; where the lab's image exists, run the daemons' own
    /// checkers (keepalived -t, haproxy -c, nginx -t) on the rendered files.
    #[command(after_help = "Examples:
  halab validate --lab my-lab.yaml
  halab validate --lab my-lab.yaml --format json | jq .valid")]
    Validate {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long, value_enum, default_value_t = DataFormat::Table)]
        format: DataFormat,
    },
    /// Build images (offline when no registry answers), create the network
    /// and containers, and wait until the lab is steady: one VIP owner that
    /// every backup hears, and clients (port 8000 on the seed lab, the VIP
    /// of an lb-pair lab) answered through it.
    #[command(after_help = "Examples:
  halab up                            the seed lab (shipped in halab), from any folder
  halab up --lab fast-failover        another shipped lab (seed, fast-failover, three-node, lb-pair)
  halab up --lab my-lab.yaml --name lab2 --port 8100 --subnet 172.30.0.0/16
                                      a second copy beside the first")]
    Up {
        #[command(flatten)]
        lab: LabArgs,
        /// How long to wait for the steady state (the master holds the VIP
        /// and what clients reach answers through it).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Start the lab and return at once, steady or not: to inspect a lab
        /// that never becomes steady (`halab status` says why).
        #[arg(long)]
        no_wait: bool,
        /// Start even when `halab lint` finds errors in the lab's configs.
        #[arg(long)]
        no_lint: bool,
    },
    /// Check the lab's configs (the user's own or the rendered ones) for
    /// what fails at run time, each with file:line and the fix; where the
    /// base image exists, also keepalived -t, haproxy -c and nginx -t inside
    /// the lab image. Exit 1 with errors, 0 without (warnings are shown).
    Lint {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long, value_enum, default_value_t = LintFormat::Table)]
        format: LintFormat,
    },
    /// Make a lab file from a docker-compose project with keepalived nodes
    /// and an HAProxy proxy; the lab runs the project's own files. Prints
    /// the lint findings; `--fix` writes corrected copies (never the
    /// originals) and a lab that uses them. Exit 1 while errors remain.
    Import(crate::import::ImportOptions),
    /// Remove the lab's containers and network (selected by label only).
    #[command(after_help = "Examples:
  halab down
  halab down --name lab2 --images     by name alone, with the lab's images")]
    Down {
        #[command(flatten)]
        lab: LabArgs,
        /// Also remove the lab's images (the shared base image is kept).
        #[arg(long)]
        images: bool,
    },
    /// Show every node: container state, VRRP state, VIP, nginx, and what
    /// the port answers now.
    #[command(after_help = "Examples:
  halab status
  halab status --format json | jq '.nodes[] | select(.holds_vip) | .name'")]
    Status {
        #[command(flatten)]
        lab: LabArgs,
        #[arg(long, value_enum, default_value_t = DataFormat::Table)]
        format: DataFormat,
        /// The same as `--format json` (kept for scripts that use it).
        #[arg(long, hide = true, conflicts_with = "format")]
        json: bool,
    },
    /// Print the logs of the lab's containers (or of one node).
    #[command(after_help = "Examples:
  halab logs
  halab logs nginx_master --follow")]
    Logs {
        /// Node (or proxy) name; all members when absent.
        node: Option<String>,
        #[command(flatten)]
        lab: LabArgs,
        /// Keep printing new lines until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
    },
    /// Manage halab's images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Run a scenario over a grid of lab settings, each point on its own
    /// copy of the lab (named `<lab>-p<N>`, port + N), brought up and down
    /// in turn; one stored run per point and run. `halab report` draws the
    /// failover curve.
    Sweep {
        /// The scenario to run at every point.
        #[arg(value_parser = parse_scenario, value_name = "SCENARIO")]
        scenario: ScenarioName,
        #[command(flatten)]
        lab: LabArgs,
        /// A lab setting and its values, KEY=V1,V2,… (e.g.
        /// `--set vrrp.advert_int=20ms,50ms,100ms`); repeat for a grid.
        #[arg(long = "set", value_name = "KEY=V1,V2")]
        grid: Vec<String>,
        /// Runs per point.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        runs: u32,
        /// A scenario option, NAME=VALUE (as `halab chaos --set`).
        #[arg(long = "option", value_name = "NAME=VALUE", value_delimiter = ',')]
        options: Vec<String>,
        /// Probe schedule [default: the lab's].
        #[arg(long, value_parser = humantime::parse_duration)]
        interval: Option<Duration>,
        /// Where runs are stored.
        #[arg(long, value_name = "DIR", default_value = ".halab/runs")]
        runs_dir: PathBuf,
    },
    /// Find the fastest VRRP advert interval (and the HAProxy timeouts and
    /// retries that go with it) that meets the lab's budgets and does not
    /// flap: each candidate runs on its own copy of the lab (`<lab>-p<N>`,
    /// port + N), like `halab sweep`.
    #[command(long_about = TUNE_HELP, after_help = "Examples:
  halab tune --lab fast-failover
                        the fast lab's budgeted scenarios, every VRRPv3 candidate
  halab tune --lab my-lab.yaml --scenario kill-master --runs 5 --soak 60s \\
             --stress vrrp-loss:20% --out my-lab.tuned.yaml
                        a stricter search; writes the tuned lab
  halab tune --lab fast-failover --advert 20ms,100ms --runs 1 --soak 5s
                        a quick look at two candidates
  halab up --lab my-lab.tuned.yaml && halab test --lab my-lab.tuned.yaml
                        then use it

Exit codes: 0 a candidate qualified (printed, and written with --out), 1 none did
(the output says what to relax), 2 halab could not do its job.")]
    Tune {
        #[command(flatten)]
        lab: LabArgs,
        /// A scenario whose budgets a candidate must meet (repeatable)
        /// [default: those the lab file budgets under `scenarios:`, else
        /// kill-master].
        #[arg(long = "scenario", value_parser = parse_scenario, value_name = "SCENARIO")]
        scenarios: Vec<ScenarioName>,
        /// Advert intervals to try, e.g. `20ms,50ms,100ms` [default:
        /// VRRPv3 1s,500ms,200ms,100ms,50ms,30ms,20ms,10ms; VRRPv2 3s,2s,1s].
        #[arg(long, value_name = "LIST")]
        advert: Option<String>,
        /// Runs of each scenario per candidate; all must meet the budgets.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        runs: u32,
        /// How long each candidate idles under the stress; any VRRP
        /// transition in it rejects the candidate (and every faster one).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        soak: Duration,
        /// The stress of the soak: `none`, `vrrp-loss:20%`, `client-loss:0.1`,
        /// `starve-master` or `starve-master:0.05` (the `idle` scenario's).
        #[arg(long, default_value = "none", value_name = "STRESS")]
        stress: String,
        /// Probe schedule [default: the lab's].
        #[arg(long, value_parser = humantime::parse_duration)]
        interval: Option<Duration>,
        /// Write the tuned lab here: the lab file with the chosen values
        /// (its comments kept where they can be), never the lab file itself.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing `--out` file.
        #[arg(long)]
        force: bool,
        /// Where runs are stored.
        #[arg(long, value_name = "DIR", default_value = ".halab/runs")]
        runs_dir: PathBuf,
    },
    /// Inject one fault, watch what clients see (the published port, or the VIP of an lb-pair lab), heal, and judge.
    // The scenario list comes from the catalogue, like everything else a
    // scenario means.
    #[command(long_about = crate::scenario::chaos_help(), after_help = "Examples:
  halab chaos stop-master
  halab chaos kill-master --lab fast-failover --budget 100ms
  halab chaos partition-master --no-heal      leave the fault in place")]
    Chaos {
        /// The scenario to run (see above).
        #[arg(value_parser = parse_scenario, value_name = "SCENARIO")]
        scenario: ScenarioName,
        #[command(flatten)]
        lab: LabArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run the default scenarios of the lab's shape in turn (or those named), healing between them.
    #[command(after_help = "Examples:
  halab test --up
  halab test --scenario stop-master --scenario kill-master
  halab test && halab report --all --format junit -o junit.xml")]
    Test {
        #[command(flatten)]
        lab: LabArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Bring the lab up first (and leave it up).
        #[arg(long)]
        up: bool,
        /// Only these scenarios (repeatable) [default: all].
        #[arg(long = "scenario", value_parser = parse_scenario)]
        scenarios: Vec<ScenarioName>,
    },
    /// Turn stored runs into a table, JSON, JUnit XML, Markdown or HTML.
    #[command(after_help = "Examples:
  halab report                        the last run as a table
  halab report --all --format junit -o junit.xml
  halab report --format html -o run.html
  halab report --compare RUN_A RUN_B")]
    Report(ReportArgs),
    /// Write a lab shipped with halab to a file, to edit and use with `--lab`.
    #[command(after_help = "Examples:
  halab init                          writes nginx-keepalived.yaml here
  halab init fast-failover --out labs/mine.yaml
  halab up --lab labs/mine.yaml")]
    Init {
        /// Which shipped lab.
        #[arg(default_value = crate::shipped::DEFAULT, value_name = "NAME")]
        name: String,
        /// Where to write it [default: NAME.yaml]; never overwritten.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  halab completions bash > ~/.local/share/bash-completion/completions/halab
  halab completions zsh > ~/.zfunc/_halab
  halab completions fish > ~/.config/fish/completions/halab.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder.
    #[command(after_help = "Examples:
  halab man | man -l -
  halab man --out /usr/local/share/man/man1")]
    Man {
        /// Write halab.1 and halab-COMMAND.1 files here instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

const TUNE_HELP: &str = "\
Find the fastest VRRP advert interval, and the HAProxy timeouts and retries that go \
with it, that meets the lab's budgets and does not flap.

Each candidate advert (slow to fast) runs on its own copy of the lab (`<lab>-p<N>`, \
port + N, removed after): first the scenarios, `--runs` times each, against the lab's \
budgets (`scenarios:` in the lab file, or the defaults derived from its timers); then, \
if they all passed, an `idle` soak of `--soak` under `--stress`, which must show no VRRP \
transition and no second VIP owner. The search stops at the first candidate that \
flaps in its soak: a faster advert only flaps sooner. The recommendation is the fastest \
candidate that qualified; the table says why each other one was rejected.

The proxy follows the advert (docs/benchmarks.md, \"Tuning the fast lab\"):
  proxy.timeouts.connect = advert
      a request caught by a dead master is retried every connect timeout
  proxy.timeouts.server  = 50ms, whatever the advert
      a request stuck on a connection the old master dropped, or on a frozen
      master, waits exactly this long before its retry
  proxy.retries          = enough waits to cover 5 Master_Down intervals
      (3 x advert + skew, under 4 x advert), each wait the shorter timeout;
      at most 100

Every run is stored (`halab report --all` shows them, with the failover curves).";

/// How a command with structured output prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// For a person.
    Table,
    /// For a program: one JSON document carrying `schema_version`.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Make the base image (offline with mmdebstrap when no registry answers).
    #[command(after_help = "Examples:
  halab image build
  halab image build --force           rebuild it")]
    Build {
        #[command(flatten)]
        lab: LabArgs,
        /// Rebuild even when the image exists.
        #[arg(long)]
        force: bool,
    },
}

/// How `halab lint` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// One block per finding, then the daemons' checks.
    Table,
    /// Findings and daemon checks as JSON.
    Json,
}

/// Which lab, and what to change in it for this invocation.
#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// Lab file, or the name of a lab shipped with halab: `seed` (the same
    /// as `nginx-keepalived`), `fast-failover`, `three-node`, `lb-pair`.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LAB, env = "HALAB_LAB")]
    pub lab: PathBuf,
    /// Templates folder replacing the built-in templates.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Run the lab under another name (Docker objects are prefixed with it).
    #[arg(long)]
    pub name: Option<String>,
    /// Publish the proxy on this host port instead of the lab's.
    #[arg(long)]
    pub port: Option<u16>,
    /// Use this subnet; every address keeps its offset inside it.
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<Ipv4Net>,
}

impl RunArgs {
    /// What these flags change in a run's spec.
    pub fn choices(&self) -> Choices {
        Choices {
            switch_within: self.budget,
            interval: self.interval,
            heal: !self.no_heal,
            params: None,
            strict: self.strict,
        }
    }
}

impl LabArgs {
    /// The flags the next command needs to find this same lab: empty for
    /// the default lab under its own name.
    pub fn to_repeat(&self) -> String {
        let mut flags = Vec::new();
        if self.lab != Path::new(DEFAULT_LAB) {
            flags.push(format!("--lab {}", self.lab.display()));
        }
        if let Some(name) = &self.name {
            flags.push(format!("--name {name}"));
        }
        if let Some(port) = self.port {
            flags.push(format!("--port {port}"));
        }
        if let Some(subnet) = self.subnet {
            flags.push(format!("--subnet {subnet}"));
        }
        flags.join(" ")
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            name: self.name.clone(),
            port: self.port,
            subnet: self.subnet,
        }
    }
}

/// How a scenario is run and watched.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Switch budget replacing the lab's (e.g. `100ms`, `5s`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub budget: Option<Duration>,
    /// Probe schedule: one request every DUR [default: the lab's, 20ms].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub interval: Option<Duration>,
    /// Leave the fault in place at the end (default: heal and watch recovery).
    #[arg(long)]
    pub no_heal: bool,
    /// A scenario option, NAME=VALUE (e.g. `--set loss=0.2`); repeat or
    /// separate with commas. `halab chaos --help` lists each scenario's.
    #[arg(long = "set", value_name = "NAME=VALUE", value_delimiter = ',')]
    pub set: Vec<String>,
    /// Fail a run on any warning (a finding no budget judges, e.g. a split
    /// brain on partition-master), for CI. Stored with the run. Also set by
    /// `strict: true` in the lab file.
    #[arg(long)]
    pub strict: bool,
    /// Where runs are stored.
    #[arg(long, value_name = "DIR", default_value = ".halab/runs")]
    pub runs_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Run ids or files [default: the last run].
    pub runs: Vec<String>,
    /// Only the most recent run.
    #[arg(long, conflicts_with_all = ["runs", "all"])]
    pub last: bool,
    /// Every stored run.
    #[arg(long, conflicts_with = "runs")]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 0 even when a reported run missed a budget.
    #[arg(long)]
    pub no_fail: bool,
    /// Report every run with a warning as failed (as if it had run with
    /// `--strict`), and exit 1 for it.
    #[arg(long)]
    pub strict: bool,
    /// Judge the runs again from their stored timeline and spec, report the
    /// new verdicts, and say where a stored verdict differs.
    #[arg(long, conflicts_with = "compare")]
    pub rejudge: bool,
    /// Compare two runs: switch time, outage, and the rest, side by side.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"], conflicts_with_all = ["runs", "all", "last"])]
    pub compare: Option<Vec<String>>,
    /// Where runs are stored.
    #[arg(long, value_name = "DIR", default_value = ".halab/runs")]
    pub runs_dir: PathBuf,
}

fn parse_scenario(s: &str) -> Result<ScenarioName, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn up_names_the_flags_the_next_command_needs_and_no_more() {
        let flags = |argv: &[&str]| {
            let cli = Cli::try_parse_from([&["halab", "up"], argv].concat()).unwrap();
            let Command::Up { lab, .. } = cli.command else {
                panic!("not up")
            };
            lab.to_repeat()
        };
        assert_eq!(flags(&[]), "");
        assert_eq!(
            flags(&["--lab", "lb-pair", "--name", "x", "--port", "9000"]),
            "--lab lb-pair --name x --port 9000"
        );
        assert_eq!(flags(&["--subnet", "10.9.0.0/16"]), "--subnet 10.9.0.0/16");
    }

    #[test]
    fn unknown_scenario_suggests_the_closest() {
        let err = Cli::try_parse_from(["halab", "chaos", "stop-mastr"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("did you mean `stop-master`"), "{text}");
    }

    #[test]
    fn strict_is_a_flag_of_chaos_test_and_report() {
        let cli = Cli::try_parse_from(["halab", "chaos", "partition-master", "--strict"]).unwrap();
        let Command::Chaos { run, .. } = cli.command else {
            panic!("not chaos")
        };
        assert!(run.choices().strict);
        let cli = Cli::try_parse_from(["halab", "test", "--strict"]).unwrap();
        let Command::Test { run, .. } = cli.command else {
            panic!("not test")
        };
        assert!(run.choices().strict);
        let cli = Cli::try_parse_from(["halab", "report", "--strict"]).unwrap();
        let Command::Report(args) = cli.command else {
            panic!("not report")
        };
        assert!(args.strict);
        let cli = Cli::try_parse_from(["halab", "chaos", "stop-master"]).unwrap();
        let Command::Chaos { run, .. } = cli.command else {
            panic!("not chaos")
        };
        assert!(!run.choices().strict);
    }

    #[test]
    fn overrides_come_from_flags() {
        let cli = Cli::try_parse_from([
            "halab",
            "up",
            "--name",
            "lab2",
            "--port",
            "8100",
            "--subnet",
            "172.29.0.0/16",
        ])
        .unwrap();
        let Command::Up { lab, timeout, .. } = cli.command else {
            panic!("not up")
        };
        let o = lab.overrides();
        assert_eq!(o.name.as_deref(), Some("lab2"));
        assert_eq!(o.port, Some(8100));
        assert_eq!(o.subnet.unwrap().to_string(), "172.29.0.0/16");
        assert_eq!(timeout, Duration::from_secs(30));
    }
}
