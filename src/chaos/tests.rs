//! Whole runs against `FakeEngine` and a scripted probe, on paused Tokio
//! time: no Docker, no network. A small model of keepalived (`Sim`) moves
//! the VIP when the master's container stops or comes back, prints what `ip
//! -o monitor address` and keepalived's log would, and the probe answers
//! with the page of whoever holds the VIP.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::engine::{ContainerSpec, ExecOutput, FakeEngine, Labels};
use crate::timeline::{Clock, EventKind, Micros, Outcome, Request, VrrpState};

const MS: Micros = 1000;

fn seed() -> Lab {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml");
    crate::lab::load(&path).expect("seed lab loads")
}

/// How the simulated keepalived behaves.
#[derive(Clone, Copy)]
struct Sim {
    /// The backup takes the VIP this long after the master is gone (`None`: never).
    takeover: Option<Duration>,
    /// The master takes it back this long after it runs again (`None`: never).
    failback: Option<Duration>,
    /// The master holds the VIP from the start.
    master_up: bool,
}

const CLEAN: Sim = Sim {
    takeover: Some(Duration::from_millis(300)),
    failback: Some(Duration::from_millis(200)),
    master_up: true,
};

struct World {
    lab: Lab,
    fake: Arc<FakeEngine>,
    clock: Clock,
    master: String,
    backup: String,
    /// The node holding the VIP.
    holder: Arc<Mutex<Option<String>>>,
    sim: tokio::task::JoinHandle<()>,
}

fn vip_line(lab: &Lab, deleted: bool) -> String {
    format!(
        "{}2: eth0    inet {}/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever",
        if deleted { "Deleted " } else { "" },
        lab.vip_addr()
    )
}

impl World {
    /// The seed lab up on a fake engine, every member running.
    async fn new(sim: Sim) -> World {
        World::on(seed(), sim).await
    }

    /// `lab` up on a fake engine: its nodes, front proxy or web servers.
    async fn on(lab: Lab, sim: Sim) -> World {
        let fake = Arc::new(FakeEngine::new());
        fake.hold_streams();
        let clock = Clock::start();
        fake.use_clock(clock);
        fake.add_image("img", Labels::new());
        fake.add_network("net", "172.20.0.0/16".parse().unwrap(), Labels::new());
        let spec = lab.spec();
        let members: Vec<String> = spec
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .chain(lab.has_front_proxy().then(|| spec.proxy.name.clone()))
            .chain(lab.backends().iter().map(|w| w.name.clone()))
            .collect();
        for m in &members {
            let name = lab.container_name(m);
            fake.create_container(&ContainerSpec {
                name: name.clone(),
                image: "img".into(),
                env: Default::default(),
                labels: Labels::new(),
                network: "net".into(),
                ip: None,
                cap_add: vec![],
                publish: None,
            })
            .await
            .unwrap();
            fake.start(&name).await.unwrap();
        }
        fake.clear_calls();
        let master = lab.master().name.clone();
        let backup = lab.backups()[0].name.clone();
        let holder = Arc::new(Mutex::new(sim.master_up.then(|| master.clone())));
        {
            let (holder, lab) = (holder.clone(), lab.clone());
            fake.set_exec(move |container, argv| {
                let holds = holder
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_some_and(|n| lab.container_name(n) == container);
                let show = argv.first() == Some(&"ip") && argv.contains(&"show");
                ExecOutput {
                    exit_code: 0,
                    stdout: if show && holds {
                        vip_line(&lab, false)
                    } else {
                        String::new()
                    },
                    stderr: String::new(),
                }
            });
        }
        let task = tokio::spawn(keepalived(
            lab.clone(),
            fake.clone(),
            holder.clone(),
            sim,
            master.clone(),
            backup.clone(),
        ));
        World {
            lab,
            fake,
            clock,
            master,
            backup,
            holder,
            sim: task,
        }
    }

    fn container(&self, node: &str) -> String {
        self.lab.container_name(node)
    }

    /// A probe answering with the page of the VIP's holder.
    fn probe(&self) -> ScriptedProbe {
        let holder = self.holder.clone();
        ScriptedProbe::new(move |_| match holder.lock().unwrap().clone() {
            Some(node) => Outcome::Page { node },
            None => Outcome::Connect {
                error: "connection refused".into(),
            },
        })
    }

    fn runner(&self) -> Runner {
        Runner::new(self.fake.clone())
            .probe(self.probe())
            .clock(self.clock)
    }

    /// The engine's calls that change something (not reads or watchers).
    fn actions(&self) -> Vec<String> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| {
                [
                    "stop ",
                    "start ",
                    "kill ",
                    "pause ",
                    "unpause ",
                    "update_cpu ",
                ]
                .iter()
                .any(|p| c.starts_with(p))
            })
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.sim.abort();
    }
}

/// A two-node keepalived, roughly: the backup takes the VIP `takeover`
/// after the master's container stops running, the master takes it back
/// `failback` after it runs again.
async fn keepalived(
    lab: Lab,
    fake: Arc<FakeEngine>,
    holder: Arc<Mutex<Option<String>>>,
    sim: Sim,
    master: String,
    backup: String,
) {
    let (mc, bc) = (lab.container_name(&master), lab.container_name(&backup));
    let mut changed = tokio::time::Instant::now();
    let mut was_up = true;
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let up = fake
            .container(&mc)
            .is_some_and(|c| c.state == ContainerState::Running);
        if up != was_up {
            was_up = up;
            changed = tokio::time::Instant::now();
        }
        let now_holder = holder.lock().unwrap().clone();
        let since = changed.elapsed();
        if !up && now_holder.as_deref() == Some(&master) {
            // Its namespace went with it.
            *holder.lock().unwrap() = None;
        } else if !up && now_holder.is_none() && sim.takeover.is_some_and(|d| since >= d) {
            *holder.lock().unwrap() = Some(backup.clone());
            fake.exec_line(&bc, &vip_line(&lab, false));
            fake.log_line(&bc, "(VI_1) Entering MASTER STATE");
        } else if up
            && now_holder.as_deref() != Some(&master)
            && sim.master_up
            && sim.failback.is_some_and(|d| since >= d)
        {
            if now_holder.is_some() {
                fake.exec_line(&bc, &vip_line(&lab, true));
                fake.log_line(&bc, "(VI_1) Entering BACKUP STATE");
            }
            *holder.lock().unwrap() = Some(master.clone());
            fake.exec_line(&mc, &vip_line(&lab, false));
            fake.log_line(&mc, "(VI_1) Entering MASTER STATE");
        }
    }
}

/// An interrupt that fires the first time the run reports `phase`, and the
/// progress callback that watches for it.
fn ctrl_c_in(
    phase: Phase,
) -> (
    impl std::future::Future<Output = ()>,
    impl FnMut(Phase, Progress),
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let interrupt = async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let watch = move |p: Phase, _: Progress| {
        if p == phase {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    };
    (interrupt, watch)
}

fn never() -> impl std::future::Future<Output = ()> {
    std::future::pending()
}

/// Runs `scenario` (bounded in virtual time, so a hang fails the test).
async fn run_in(
    world: &World,
    runner: Runner,
    scenario: ScenarioName,
    interrupt: impl std::future::Future<Output = ()>,
    on_progress: impl FnMut(Phase, Progress),
) -> Result<Observed, ChaosError> {
    let opts = RunOptions::for_lab(&world.lab, scenario);
    tokio::time::timeout(
        Duration::from_secs(120),
        runner.run(&world.lab, scenario, &opts, interrupt, on_progress),
    )
    .await
    .expect("the run ends")
}

fn faults(o: &Observed) -> Vec<(Micros, &str)> {
    o.timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault { action } => Some((e.at, action.as_str())),
            _ => None,
        })
        .collect()
}

fn heals(o: &Observed) -> Vec<(Micros, &str)> {
    o.timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Heal { action } => Some((e.at, action.as_str())),
            _ => None,
        })
        .collect()
}

fn requests(o: &Observed) -> Vec<&Request> {
    o.timeline.requests().collect()
}

fn first_page_of(o: &Observed, node: &str, from: Micros) -> Option<Micros> {
    requests(o)
        .into_iter()
        .find(|r| r.sent >= from && r.outcome.node() == Some(node))
        .map(|r| r.sent)
}

fn vip(o: &Observed, node: &str) -> Vec<(Micros, bool)> {
    o.timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Vip { node: n, holds } if n == node => Some((e.at, *holds)),
            _ => None,
        })
        .collect()
}

fn vrrp(o: &Observed, node: &str) -> Vec<(Micros, VrrpState)> {
    o.timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Vrrp { node: n, state } if n == node => Some((e.at, *state)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_clean_switch_is_observed_healed_and_recovered() {
    let w = World::new(CLEAN).await;
    let o = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap();
    let (m, b) = (w.container(&w.master), w.container(&w.backup));
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    assert!(!o.aborted && o.healed);
    let fault = faults(&o);
    assert_eq!(fault.len(), 1);
    assert_eq!(fault[0].1, format!("docker stop {m}"));
    let fault = fault[0].0;
    // The baseline ran its minimum and saw the master.
    assert!(fault >= 1000 * MS, "fault at {fault}");
    assert!(first_page_of(&o, &w.master, 0).is_some_and(|t| t < fault));
    // The backup's page came ≈300 ms after the fault (the sim's takeover).
    let switch = first_page_of(&o, &w.backup, fault).expect("a switch") - fault;
    assert!((300 * MS..=340 * MS).contains(&switch), "switch {switch}");
    // VIP lanes: the master lost it when the engine recorded its exit (the
    // fault's own instant here), the backup gained it at the switch.
    assert_eq!(vip(&o, &w.master)[0], (0, true));
    let lost = vip(&o, &w.master)[1];
    assert_eq!(lost, (fault, false));
    let gained = vip(&o, &w.backup)
        .into_iter()
        .find(|(_, h)| *h)
        .expect("backup gained the VIP");
    assert!(gained.0 >= fault + 300 * MS && gained.0 < fault + 340 * MS);
    assert!(vrrp(&o, &w.backup).contains(&(gained.0, VrrpState::Master)));
    // Observation stopped once the backup had served a whole second, not
    // at its 8 s maximum; then the heal, and the master's page again.
    let (heal, action) = heals(&o)[0];
    assert_eq!(action, format!("docker start {m}"));
    assert!(
        (fault + 1300 * MS..fault + 1500 * MS).contains(&heal),
        "heal {} ms after the fault",
        (heal - fault) / MS
    );
    let back = first_page_of(&o, &w.master, heal).expect("master page after the heal");
    assert!(back - heal >= 200 * MS && back - heal < 260 * MS);
    assert!(vip(&o, &w.master).iter().any(|(t, h)| *h && *t >= heal));
    // Recovery: half a second of master pages, then the end.
    let last = o.timeline.events.iter().map(|e| e.at).max().unwrap();
    assert!(last >= back + 500 * MS && last < back + 700 * MS);
    // Nothing left behind: every stream the watchers opened was dropped.
    assert_eq!(w.fake.open_streams(&b), 0);
    assert_eq!(w.fake.open_streams(&m), 0);
}

#[tokio::test(start_paused = true)]
async fn a_switch_that_never_comes_is_watched_to_the_end_then_healed() {
    let w = World::new(Sim {
        takeover: None,
        ..CLEAN
    })
    .await;
    let observe = w
        .lab
        .budget(ScenarioName::StopMaster)
        .observe
        .unwrap_or(Duration::from_secs(8));
    let o = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap();
    let m = w.container(&w.master);
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    let (fault, heal) = (faults(&o)[0].0, heals(&o)[0].0);
    let watched = Duration::from_micros(heal - fault);
    assert!(
        watched >= observe && watched < observe + Duration::from_millis(100),
        "{watched:?}"
    );
    assert_eq!(first_page_of(&o, &w.backup, 0), None);
    assert!(requests(&o)
        .iter()
        .filter(|r| r.sent > fault + 10 * MS && r.sent < heal)
        .all(|r| r.outcome.is_failure()));
    assert!(vip(&o, &w.backup).iter().all(|(_, h)| !h));
    assert!(!o.aborted && o.healed);
    assert!(first_page_of(&o, &w.master, heal).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_fault_that_cannot_be_injected_is_healed_and_reported() {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    w.fake
        .fail(&format!("stop {m}"), "cannot stop: device busy");
    let err = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ChaosError::Inject { .. }), "{err:?}");
    assert_eq!(
        crate::ui::error_text(&err),
        format!(
            "could not inject `stop-master` (docker stop {m})\n  caused by: cannot stop container `{m}`\n  caused by: cannot stop: device busy\n  the lab was healed as far as possible; check it with `halab status`"
        )
    );
    // Healed as far as possible, no recovery watched.
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
}

#[tokio::test(start_paused = true)]
async fn a_partial_fault_heals_every_action_and_reports_the_first_failure() {
    // The pause fails, so the heal (unpause) fails too: the error reported
    // is the fault's, and every heal action was still tried.
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    w.fake.fail(&format!("pause {m}"), "cgroup freezer missing");
    let err = run_in(
        &w,
        w.runner(),
        ScenarioName::PauseMaster,
        never(),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(
        crate::ui::error_text(&err).starts_with(&format!(
            "could not inject `pause-master` (docker pause {m})\n  caused by: cannot pause container `{m}`\n  caused by: cgroup freezer missing"
        )),
        "{err}"
    );
    assert_eq!(w.actions(), [format!("pause {m}"), format!("unpause {m}")]);
}

#[tokio::test(start_paused = true)]
async fn a_heal_that_fails_is_reported_after_the_fault_was_observed() {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    w.fake
        .fail(&format!("start {m}"), "no space left on device");
    let started = tokio::time::Instant::now();
    let err = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(
        crate::ui::error_text(&err),
        format!(
            "could not heal `stop-master` (docker start {m})\n  caused by: cannot start container `{m}`\n  caused by: no space left on device\n  fix: `halab down` then `halab up` restores the lab"
        )
    );
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    // Baseline (1 s), the switch (0.3 s) and its steady second, then the
    // failed heal ends the run: no recovery is waited for.
    assert!(
        started.elapsed() < Duration::from_millis(2600),
        "{:?}",
        started.elapsed()
    );
}

/// Ctrl-C in `phase` of stop-master, with actions that take a while so
/// that the interrupt lands while they run.
async fn ctrl_c_during(phase: Phase) -> (World, Observed) {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    w.fake
        .delay(&format!("stop {m}"), Duration::from_millis(400));
    w.fake
        .delay(&format!("start {m}"), Duration::from_millis(400));
    let (interrupt, watch) = ctrl_c_in(phase);
    let o = run_in(&w, w.runner(), ScenarioName::StopMaster, interrupt, watch)
        .await
        .unwrap();
    assert!(o.aborted, "{phase:?}: aborted");
    (w, o)
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_in_the_baseline_injects_nothing_and_heals_nothing() {
    let (w, o) = ctrl_c_during(Phase::Baseline).await;
    assert_eq!(w.actions(), Vec::<String>::new());
    assert!(faults(&o).is_empty() && heals(&o).is_empty());
    assert!(!o.healed);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_the_fault_is_injected_lets_it_finish_then_heals() {
    let (w, o) = ctrl_c_during(Phase::Fault).await;
    let m = w.container(&w.master);
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    let (fault, heal) = (faults(&o)[0].0, heals(&o)[0].0);
    // The stop took its 400 ms; the heal followed at once, no observation.
    assert!(
        heal - fault >= 400 * MS && heal - fault < 500 * MS,
        "{}",
        heal - fault
    );
    assert!(o.healed);
    // No recovery watched: the run ended when the start returned.
    let last = o.timeline.events.iter().map(|e| e.at).max().unwrap();
    assert!(last < heal + 500 * MS, "{}", last - heal);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_observing_heals_at_once() {
    let (w, o) = ctrl_c_during(Phase::Observe).await;
    let m = w.container(&w.master);
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    let (fault, heal) = (faults(&o)[0].0, heals(&o)[0].0);
    // Right after the stop returned (400 ms), well before the 1 s minimum.
    assert!(heal - fault < 500 * MS, "{}", heal - fault);
    assert_eq!(heals(&o).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_healing_finishes_the_heal_and_skips_recovery() {
    let (w, o) = ctrl_c_during(Phase::Heal).await;
    let m = w.container(&w.master);
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    assert_eq!(heals(&o).len(), 1);
    assert!(o.healed);
    assert_eq!(
        w.fake.container(&m).unwrap().state,
        ContainerState::Running,
        "the start was carried out"
    );
    let heal = heals(&o)[0].0;
    let last = o.timeline.events.iter().map(|e| e.at).max().unwrap();
    assert!(last < heal + 500 * MS, "{}", last - heal);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_during_recovery_stops_watching_with_the_fault_healed() {
    let (w, o) = ctrl_c_during(Phase::Recovery).await;
    let m = w.container(&w.master);
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
    assert_eq!(heals(&o).len(), 1);
    assert!(o.healed);
    let heal = heals(&o)[0].0;
    let last = o.timeline.events.iter().map(|e| e.at).max().unwrap();
    // Heal took 400 ms; recovery would have needed ≥ 500 ms more of pages.
    assert!(last < heal + 600 * MS, "{}", last - heal);
}

#[tokio::test(start_paused = true)]
async fn an_unsteady_baseline_goes_ahead_by_default_with_no_master_page_before_the_fault() {
    let w = World::new(Sim {
        master_up: false,
        ..CLEAN
    })
    .await;
    let o = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap();
    let fault = faults(&o)[0].0;
    // The baseline waited its maximum (1 s + 5 s) for the master's page.
    assert!((6000 * MS..6100 * MS).contains(&fault), "{fault}");
    assert_eq!(first_page_of(&o, &w.master, 0).filter(|t| *t < fault), None);
    assert_eq!(heals(&o).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unsteady_baseline_ends_the_run_before_any_fault_when_required() {
    let w = World::new(Sim {
        master_up: false,
        ..CLEAN
    })
    .await;
    let runner = w.runner().require_steady_baseline(true);
    let o = run_in(&w, runner, ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(w.actions(), Vec::<String>::new());
    assert!(faults(&o).is_empty() && heals(&o).is_empty());
    assert!(!o.aborted && !o.healed);
    let last = requests(&o).last().unwrap().sent;
    assert!((5900 * MS..6100 * MS).contains(&last), "{last}");
    assert!(requests(&o).iter().all(|r| r.outcome.is_failure()));
}

#[tokio::test(start_paused = true)]
async fn a_master_that_vanishes_mid_run_makes_the_heal_fail_without_a_hang() {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    let fake = w.fake.clone();
    let gone = m.clone();
    let err = run_in(
        &w,
        w.runner(),
        ScenarioName::StopMaster,
        never(),
        move |p, _| {
            if p == Phase::Observe {
                fake.vanish(&gone);
            }
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ChaosError::Heal { .. }), "{err:?}");
    let text = crate::ui::error_text(&err);
    assert!(text.contains("No such object"), "{text}");
    assert_eq!(w.actions(), [format!("stop {m}"), format!("start {m}")]);
}

#[tokio::test(start_paused = true)]
async fn a_backup_that_vanishes_mid_run_loses_the_vip_in_the_timeline() {
    let w = World::new(CLEAN).await;
    let b = w.container(&w.backup);
    let fake = w.fake.clone();
    let holder = w.holder.clone();
    let gone_at = Arc::new(Mutex::new(None));
    let clock = w.clock;
    let (gone, seen) = (b.clone(), gone_at.clone());
    let o = run_in(
        &w,
        w.runner(),
        ScenarioName::StopMaster,
        never(),
        move |_, _| {
            // Once the backup serves, it disappears, and nobody serves.
            let serving = holder.lock().unwrap().as_deref() == Some("nginx_slave");
            if serving && seen.lock().unwrap().is_none() {
                fake.vanish(&gone);
                *holder.lock().unwrap() = None;
                *seen.lock().unwrap() = Some(clock.now());
            }
        },
    )
    .await
    .unwrap();
    let gone_at = gone_at.lock().unwrap().expect("the backup vanished");
    let lanes = vip(&o, &w.backup);
    let lost = lanes
        .iter()
        .find(|(t, h)| !h && *t >= gone_at)
        .expect("the backup's VIP loss is recorded");
    assert!(lost.0 - gone_at < 200 * MS, "{}", lost.0 - gone_at);
    // The fault was observed to its end (the backup never served steadily)
    // and healed.
    assert_eq!(heals(&o).len(), 1);
    assert!(o.healed && !o.aborted);
}

#[tokio::test(start_paused = true)]
async fn a_lab_that_is_not_up_is_refused_before_anything_starts() {
    let w = World::new(CLEAN).await;
    w.fake.vanish(&w.container(&w.backup));
    let err = run_in(&w, w.runner(), ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ChaosError::NotUp { .. }), "{err:?}");
    assert_eq!(w.actions(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_a_master_is_starved_lifts_its_cpu_cap() {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    let (interrupt, watch) = ctrl_c_in(Phase::Observe);
    let o = run_in(&w, w.runner(), ScenarioName::StarveMaster, interrupt, watch)
        .await
        .unwrap();
    assert!(o.aborted && o.healed);
    assert_eq!(
        w.actions(),
        [format!("update_cpu {m} 20"), format!("update_cpu {m} none")]
    );
    assert_eq!(w.fake.container(&m).unwrap().millicpus, None);
}

#[tokio::test(start_paused = true)]
async fn a_failover_storm_stops_and_starts_the_master_count_times_then_starts_it() {
    let w = World::new(CLEAN).await;
    let m = w.container(&w.master);
    let o = run_in(
        &w,
        w.runner(),
        ScenarioName::FailoverStorm,
        never(),
        |_, _| {},
    )
    .await
    .unwrap();
    let cycle = [format!("stop {m}"), format!("start {m}")];
    let mut want: Vec<String> = cycle.iter().cycle().take(6).cloned().collect();
    want.push(format!("start {m}"));
    assert_eq!(w.actions(), want);
    // Each wait of the default 1 s period is in the timeline.
    let waits = faults(&o).iter().filter(|(_, a)| *a == "wait 1s").count();
    assert_eq!(waits, 6);
    assert!(o.healed);
}

#[tokio::test(start_paused = true)]
async fn a_split_brain_before_the_fault_ends_the_run_as_an_invalid_baseline() {
    let w = World::new(CLEAN).await;
    // Both nodes hold the VIP and are MASTER (another auth_pass, say).
    let vip = vip_line(&w.lab, false);
    w.fake.set_exec(move |_, argv| ExecOutput {
        exit_code: 0,
        stdout: match argv[0] {
            "sh" => crate::observe::look_output(&vip, VrrpState::Master, None),
            "ip" => vip.clone(),
            _ => String::new(),
        },
        stderr: String::new(),
    });
    let runner = w.runner().check_steady(true);
    let o = run_in(&w, runner, ScenarioName::StopMaster, never(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(w.actions(), Vec::<String>::new(), "no fault, no heal");
    assert!(faults(&o).is_empty() && heals(&o).is_empty() && requests(&o).is_empty());
    let conditions: Vec<&str> = o
        .timeline
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Unsteady { condition, .. } => Some(condition.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(conditions[0], "one-owner");
    assert!(conditions.contains(&"hears-master"), "{conditions:?}");
    let spec = crate::spec::RunSpec::new(&w.lab, ScenarioName::StopMaster, &Default::default());
    let v = crate::verdict::judge(&o.timeline, &spec);
    assert_eq!(v.status, crate::verdict::Status::InvalidBaseline);
    assert!(
        v.reasons[0].starts_with(
            "invalid baseline: split brain: nginx_master and nginx_slave hold the VIP"
        ),
        "{:?}",
        v.reasons
    );
}

// ------------------------------------------------------------ lb-pair

fn lb_pair(check: &str) -> Lab {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/lb-pair.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("check: { kind: http,", &format!("check: {{ kind: {check},"));
    Lab::from_yaml(&text, &path).expect("lb-pair lab loads")
}

/// HAProxy on both LBs, roughly: a web server that stops running (or, under
/// a layer-7 check, freezes) is logged DOWN by each LB `fall × inter`
/// after, UP as long after it is back; requests go round the servers in the
/// pool, 503 when none is left.
struct Pool {
    up: Arc<Mutex<std::collections::BTreeMap<String, bool>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pool_sim(w: &World) -> Pool {
    let lab = w.lab.clone();
    let fake = w.fake.clone();
    let webs: Vec<String> = lab.backends().iter().map(|b| b.name.clone()).collect();
    let up = Arc::new(Mutex::new(
        webs.iter()
            .map(|b| (b.clone(), true))
            .collect::<std::collections::BTreeMap<_, _>>(),
    ));
    let check = lab.spec().backends.check.clone();
    let layer7 = check.kind == crate::lab::BackendCheckKind::Http;
    let removal = check.removal_time();
    let lbs: Vec<String> = lab
        .spec()
        .nodes
        .iter()
        .map(|n| lab.container_name(&n.name))
        .collect();
    let pool = up.clone();
    let task = tokio::spawn(async move {
        let mut since: std::collections::BTreeMap<String, (bool, tokio::time::Instant)> =
            Default::default();
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            for web in &webs {
                let state = fake.container(&lab.container_name(web)).map(|c| c.state);
                // A frozen server accepts connections: only layer 7 sees it.
                let healthy = state == Some(ContainerState::Running)
                    || (state == Some(ContainerState::Paused) && !layer7);
                let now = tokio::time::Instant::now();
                let (was, at) = *since.entry(web.clone()).or_insert((healthy, now));
                if was != healthy {
                    since.insert(web.clone(), (healthy, now));
                    continue;
                }
                let in_pool = pool.lock().unwrap()[web];
                if in_pool != healthy && now - at >= removal {
                    pool.lock().unwrap().insert(web.clone(), healthy);
                    let line = if healthy {
                        format!("Server web/{web} is UP, reason: Layer7 check passed, code: 200, check duration: 1ms.")
                    } else {
                        format!("[WARNING]  (8) : Server web/{web} is DOWN, reason: Layer4 timeout, check duration: 50ms.")
                    };
                    for lb in &lbs {
                        fake.log_line(lb, &line);
                    }
                }
            }
        }
    });
    Pool { up, task }
}

impl World {
    /// A probe answering through the VIP's holder, round the servers in its
    /// pool; a request to one that does not run is retried on the next
    /// (HAProxy's `retries` and `redispatch`).
    fn lb_probe(&self, pool: &Pool) -> ScriptedProbe {
        let holder = self.holder.clone();
        let up = pool.up.clone();
        let (fake, lab) = (self.fake.clone(), self.lab.clone());
        let turn = Arc::new(Mutex::new(0usize));
        ScriptedProbe::with_backend(move |_| {
            let Some(lb) = holder.lock().unwrap().clone() else {
                let refused = Outcome::Connect {
                    error: "connection refused".into(),
                };
                return (refused, None);
            };
            let live: Vec<String> = up
                .lock()
                .unwrap()
                .iter()
                .filter(|(w, up)| {
                    **up && fake
                        .container(&lab.container_name(w))
                        .is_some_and(|c| c.state == ContainerState::Running)
                })
                .map(|(w, _)| w.clone())
                .collect();
            if live.is_empty() {
                return (Outcome::Http { status: 503 }, None);
            }
            let mut t = turn.lock().unwrap();
            *t += 1;
            (
                Outcome::Page { node: lb },
                Some(live[*t % live.len()].clone()),
            )
        })
    }
}

async fn lb_run(check: &str, scenario: ScenarioName) -> (Observed, crate::verdict::Verdict) {
    let w = World::on(lb_pair(check), CLEAN).await;
    let pool = pool_sim(&w);
    let runner = w.runner().probe(w.lb_probe(&pool));
    let o = run_in(&w, runner, scenario, never(), |_, _| {})
        .await
        .unwrap();
    let spec = crate::spec::RunSpec::new(&w.lab, scenario, &Default::default());
    let v = crate::verdict::judge(&o.timeline, &spec);
    (o, v)
}

#[tokio::test(start_paused = true)]
async fn kill_web_passes_with_web1_out_of_the_pool_and_no_failed_request() {
    let (o, v) = lb_run("http", ScenarioName::KillWeb).await;
    assert_eq!(faults(&o)[0].1, "docker kill -s SIGKILL lb-pair-web1");
    assert_eq!(v.status, crate::verdict::Status::Pass, "{:?}", v.reasons);
    assert_eq!(v.metrics.pool_holder.as_deref(), Some("lb1"));
    // fall × inter = 200 ms, seen within the 5 ms the simulation sleeps.
    let removed = v.metrics.pool_removed.expect("removed");
    assert!((200 * MS..=215 * MS).contains(&removed), "{removed}");
    assert_eq!(v.metrics.failed, 0);
    assert_eq!(v.metrics.per_backend["web1"].fault, 0);
    // Both LBs logged it once each, and again when it came back.
    let downs = v.metrics.pool.iter().filter(|c| !c.up).count();
    assert_eq!(downs, 2, "{:?}", v.metrics.pool);
}

#[tokio::test(start_paused = true)]
async fn hang_web_fails_a_layer_4_lab_and_passes_a_layer_7_one() {
    let (_, v) = lb_run("tcp", ScenarioName::HangWeb).await;
    assert_eq!(v.status, crate::verdict::Status::Fail);
    let c = v.check("pool_remove_within").unwrap();
    assert_eq!(c.measured, crate::verdict::Measure::Never);
    assert!(c.detail.contains("did not see the fault"), "{}", c.detail);
    let (o, v) = lb_run("http", ScenarioName::HangWeb).await;
    assert_eq!(faults(&o)[0].1, "docker pause lb-pair-web1");
    assert_eq!(heals(&o)[0].1, "docker unpause lb-pair-web1");
    assert_eq!(v.status, crate::verdict::Status::Pass, "{:?}", v.reasons);
}

#[tokio::test(start_paused = true)]
async fn stop_all_web_is_an_outage_that_fails() {
    let (o, v) = lb_run("http", ScenarioName::StopAllWeb).await;
    assert_eq!(faults(&o).len(), 3);
    assert_eq!(heals(&o).len(), 3);
    assert_eq!(v.status, crate::verdict::Status::Fail);
    assert!(
        v.reasons[0].starts_with("total outage: "),
        "{:?}",
        v.reasons
    );
    assert!(v.metrics.errors_by_phase.fault > 0);
    assert!(v.check("recover_within").unwrap().passed, "{:?}", v.checks);
}

#[tokio::test(start_paused = true)]
async fn stop_proxy_on_the_seed_is_a_single_point_of_failure() {
    let w = World::new(CLEAN).await;
    let proxy = w.lab.container_name(&w.lab.spec().proxy.name);
    let fake = w.fake.clone();
    let holder = w.holder.clone();
    // Whoever holds the VIP, nothing answers while the proxy is down.
    let probe = ScriptedProbe::new(move |_| {
        let up = fake
            .container(&proxy)
            .is_some_and(|c| c.state == ContainerState::Running);
        match holder.lock().unwrap().clone() {
            Some(node) if up => Outcome::Page { node },
            _ => Outcome::Connect {
                error: "connection refused".into(),
            },
        }
    });
    let runner = w.runner().probe(probe);
    let o = run_in(&w, runner, ScenarioName::StopProxy, never(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(faults(&o)[0].1, "docker stop nginx-keepalived-proxy");
    let spec = crate::spec::RunSpec::new(&w.lab, ScenarioName::StopProxy, &Default::default());
    let v = crate::verdict::judge(&o.timeline, &spec);
    assert_eq!(v.status, crate::verdict::Status::Fail);
    assert!(
        v.reasons[0].starts_with("single point of failure: "),
        "{:?}",
        v.reasons
    );
}
