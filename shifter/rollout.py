"""The ``run``, ``--dry-run`` and ``validate`` flows: pre-flight, lock, resume, engine.

Order matters for the "nothing changed" promise: everything that can refuse (config, router
objects, Deployments, Services, queries, an unchanged pod template) runs before the first
write; the Lease is the first write; then ``shifter.release`` deploys (``--image``), waits
for readiness and runs the pre-traffic checks (a failure there is exit 3 with no traffic
moved); the router's weight comes only after that.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import structlog

from shifter import access, aftercare, retry, wiring
from shifter.analysis.analyzer import Analyzer
from shifter.config import Config
from shifter.engine import Engine, Interrupt, Outcome
from shifter.errors import InvalidInput, LockHeld, ShifterError, Unavailable
from shifter.kevents import EventRecorder
from shifter.kube.client import KubeClient
from shifter.lease import Lease, holder_of, lease_ref, read_record, state_of
from shifter.notify import Notifier
from shifter.plan import Plan, make_plan
from shifter.preflight import check_deployment, check_queries, check_services
from shifter.record import Record, RecordError, parse_record
from shifter.release.flow import Release
from shifter.report import Reporter
from shifter.routers import share
from shifter.routers.base import Colour, Router, Split, Target
from shifter.state import FINISHING, Phase, State
from shifter.writes import WriteTimeouts

log = structlog.get_logger("shifter.rollout")

RESUMABLE = {Phase.PENDING.value, Phase.SHIFTING.value, Phase.PAUSED.value,
             Phase.PROMOTING.value, Phase.REVERTING.value, Phase.HELD.value,
             Phase.WATCHING.value}


def build_plan(cfg: Config, router: Router) -> Plan:
    return make_plan(cfg.steps, bake=cfg.bake, interval=cfg.interval,
                     deadline=cfg.step_deadline, supports_partial=router.supports_partial,
                     max_consecutive_failures=cfg.failure_limits.consecutive,
                     max_total_failures=cfg.failure_limits.total, gates=cfg.gated_weights,
                     approval_timeout=cfg.approval_timeout, watch=cfg.after_promotion.watch)


def _read_split(router: Router) -> Split:
    split = retry.kube(router.read, what="read the router")
    if split.weight is None:
        raise InvalidInput("router: cannot tell how traffic is split now (objects edited by "
                           "hand?); fix the router objects or run 'shifter abort'")
    return split


def _change_dict(c: Any) -> dict[str, Any]:
    return {"object": str(c.ref), "verb": c.verb, "summary": c.summary, "body": c.body,
            "patch_type": c.patch_type.value if c.patch_type else None}


class Prepared:
    """Everything checked and built, nothing changed yet."""

    def __init__(self, cfg: Config, client: KubeClient, namespace: str,
                 reporter: Reporter) -> None:
        self.cfg = cfg
        self.client = client
        self.namespace = namespace
        self.reporter = reporter
        self.target: Target = wiring.make_target(cfg, namespace)
        self.router: Router = wiring.make_router(cfg, client, self.target)
        self.plan: Plan = build_plan(cfg, self.router)
        self.split: Split | None = None
        self.analyzer: Analyzer | None = None

    def check_cluster(self, *, allow_unreadable: bool = False) -> Split:
        retry.kube(self.router.check, what="check the router objects")
        retry.kube(lambda: check_services(self.client, self.target), what="read the Services")
        self.split = (retry.kube(self.router.read, what="read the router") if allow_unreadable
                      else _read_split(self.router))
        return self.split

    def check_new(self, new: Colour, *, ready: bool = True) -> None:
        if ready:  # a run waits for readiness instead (shifter.release)
            why = retry.kube(lambda: check_deployment(
                self.client, self.namespace, self.cfg.deployment(new.value), new),
                what="read the Deployment")
            self.reporter.emit("preflight", check="deployment",
                               message=f"Deployment {self.cfg.deployment(new.value)}: {why}")
        placeholders = retry.kube(self.router.query_placeholders, what="read the router")
        self.analyzer = wiring.make_analyzer(self.cfg, self.target, new, self.plan,
                                             placeholders=placeholders)
        n = retry.prometheus(lambda: check_queries(self._analyzer()), what="pre-flight queries",
                             deadline=5.0)
        self.reporter.emit("preflight", check="queries",
                           message=f"{n} queries parse and return data for "
                                   f"{self.target.service(new.other)}")

    def check_watch(self, new: Colour) -> None:
        """The analyzer for a watch after the promotion that a previous run started. Its
        queries are tried as in pre-flight, but a failure there (the old colour serves
        nothing now, Prometheus down) is only a warning: the watch judges it, and an
        unbroken watch never reverts a promotion because Prometheus failed."""
        try:
            self.check_new(new, ready=False)
        except (InvalidInput, Unavailable) as exc:
            if self.analyzer is None:
                raise
            log.warning("resuming the watch although a pre-flight query failed",
                        error=str(exc))

    def _analyzer(self) -> Analyzer:
        assert self.analyzer is not None
        return self.analyzer

    def plan_event(self, new: Colour, changes: list[dict[str, Any]] | None = None) -> None:
        self.reporter.emit("plan", release=self.cfg.release, namespace=self.namespace,
                           router=self.cfg.router_kind, live=self.target.service(new.other),
                           new=self.target.service(new), steps=list(self.plan.weights),
                           bake=self.plan.steps[0].bake, interval=self.plan.interval,
                           deadline=self.plan.steps[0].deadline,
                           alpha=self.cfg.analysis.alpha,
                           timeline=self.analyzer.timeline(self.plan) if self.analyzer else [],
                           changes=changes or [])


def validate(cfg: Config, client: KubeClient, namespace: str, reporter: Reporter) -> int:
    """Config, cluster objects and queries; changes nothing."""
    p = Prepared(cfg, client, namespace, reporter)
    split = p.check_cluster()
    p.check_new(split.new)
    p.plan_event(split.new)
    reporter.emit("summary", outcome="valid", exit_code=0,
                  reason=f"{cfg.release}: {split.live.value} live, {split.weight}% on "
                         f"{split.new.value}; config, objects and queries are valid")
    return 0


def dry_run(cfg: Config, client: KubeClient, namespace: str, reporter: Reporter) -> int:
    """Pre-flight and the exact writes of every step, sent with dryRun=All."""
    p = Prepared(cfg, client, namespace, reporter)
    split = p.check_cluster()
    current = read_record(client, cfg.release, namespace)
    # the writes dryRun=All cannot try (the Lease, Events) are reviewed like a run's
    access.review_run(client, cfg, p.router, namespace,
                      lease_ref(cfg.release, namespace), current, emit=reporter.emit)
    held = holder_of(current) if current else None
    if held:
        reporter.emit("preflight", check="lock",
                      message=f"note: {held[0]} holds the release now; a real run would "
                              f"exit 6 until it finishes")
    new = split.new
    rel = Release(cfg, client, namespace, p.target, p.router, reporter)
    rel.prepare(split, None)
    p.check_new(new, ready=not cfg.deploy.changes_template)
    changes: list[dict[str, Any]] = [{**_change_dict(c), "step": "deploy"}
                                     for c in rel.dry_run_changes()]

    def sent(label: Any, write: Any) -> None:
        done = retry.kube(write, what="dry-run write", retry_on_invalid=True)
        changes.extend({**_change_dict(c), "step": label} for c in done)

    for step in p.plan.steps:
        sent(step.index + 1, lambda w=step.weight: p.router.set_weight(new, w, dry_run=True))
    sent("promote", lambda: p.router.promote(new, dry_run=True))
    sent("revert", lambda: p.router.revert(new, dry_run=True))
    p.plan_event(new, changes)
    reporter.emit("summary", outcome="dry-run", exit_code=0,
                  reason=f"nothing changed; {len(changes)} writes validated by the API server")
    return 0


def run(cfg: Config, client: KubeClient, namespace: str, reporter: Reporter, *,
        interrupt: Interrupt, identity: str | None = None) -> Outcome:
    """The real thing."""
    p = Prepared(cfg, client, namespace, reporter)
    lease = Lease(client, cfg.release, namespace, identity=identity)
    current = read_record(client, cfg.release, namespace)
    lease.raise_if_held(current)
    finishing = _recorded_phase(current) in FINISHING
    # A crash between two writes of a promotion (or a revert) leaves a split that cannot
    # be told (ingress-nginx: main and canary both on the new colour): the recorded phase
    # decides then, not the split.
    split = p.check_cluster(allow_unreadable=finishing)
    plan = _Resume(split, state_of(current))
    try:
        access.review_run(client, cfg, p.router, namespace, lease.ref, current,  # before writes
                          emit=reporter.emit)
    except ShifterError:
        _revert_unverified(p, lease, plan)
        raise
    _due_aftercare(p, current)
    rel = Release(cfg, client, namespace, p.target, p.router, reporter, interrupt)
    if not plan.deploys_nothing:  # a promotion or revert to finish, a watch to resume
        rel.prepare(split, plan.new if plan.resume else None)  # refusals: nothing changed yet
    elif plan.watching and cfg.deploy.changes_template:
        _refuse_another_release(rel, split, plan.new)
    try:
        if plan.watching:
            p.check_watch(plan.new)
        elif not finishing:
            p.check_new(plan.new, ready=False)  # deploy, readiness and smoke: rel.execute
    except ShifterError:
        _revert_unverified(p, lease, plan)
        raise
    if interrupt.signalled:
        return _interrupted_in_preflight(p, interrupt)
    recorded = lease.acquire()  # the first write of the rollout
    try:
        lease.write()  # renewing needs 'update': find out now, before any traffic moves
        again = _Resume(split, recorded)
        if plan.deploys_nothing and not again.deploys_nothing:
            raise LockHeld("the release's record changed while this run started (another "
                           "run finished it); run again")
        if again.new is not plan.new and not again.finishing:  # another run finished
            (p.check_watch if again.watching else p.check_new)(again.new)
        rel.recorded = recorded
        if not again.deploys_nothing:
            rel.execute(traffic_on_new=plan.resume and plan.on_new > 0, lease=lease)
        try:
            return _run_locked(p, lease, again, interrupt, deployed=rel.deployed)
        finally:
            rel.cleanup()
    except BaseException:
        try:
            lease.release_lock()
        except ShifterError as exc:
            log.warning("could not release the lease", error=str(exc))
        raise


def _revert_unverified(p: Prepared, lease: Lease, plan: _Resume) -> None:
    """A resumed rollout refused at pre-flight (a check, or a write it may not make) with
    unverified traffic on the new colour: put it back (a promotion being watched stays)."""
    if plan.resume and plan.on_new and not plan.watching:
        lease.acquire()
        try:
            retry.revert(lambda: p.router.revert(plan.new), what="revert")
        finally:
            lease.release_lock()


def _due_aftercare(p: Prepared, current: dict[str, Any] | None) -> None:
    """A scale-down the previous rollout left due: carried out before anything is read
    for this one (its record is replaced by this run's)."""
    try:
        record = parse_record(state_of(current))
    except RecordError:
        return
    care = record.aftercare if record is not None else None
    if care is not None and aftercare.is_due(care, time.time()):
        aftercare.carry_out(p.client, p.namespace, care, p.reporter.emit,
                            "due from the previous rollout")


def _refuse_another_release(rel: Release, split: Split, new: Colour) -> None:
    """A watch to resume, and this run names what to deploy: only the release being
    watched (the same images, a Job re-run with its arguments) resumes it. Another one
    would be dropped unnoticed while the old watch ran out, so it is refused (exit 2,
    nothing changed: the patch was a dry run)."""
    rel.prepare(split, new)
    if rel.patch is not None:
        raise InvalidInput(
            f"deploy: the rollout to {new.value} is recorded as watching its promotion (the "
            f"run watching it stopped); run 'shifter run' with that rollout's --image "
            f"(or without --image) to finish the watch first, or 'shifter abort "
            f"{rel.cfg.release}' to put all traffic back on {new.other.value}")


def _recorded_phase(obj: dict[str, Any] | None) -> Phase | None:
    try:
        record = parse_record(state_of(obj))
    except RecordError:
        return None
    return record.phase if record is not None else None


def _interrupted_in_preflight(p: Prepared, interrupt: Interrupt) -> Outcome:
    """A signal during pre-flight: nothing was written, no lock taken: exit 4."""
    reason = f"interrupted ({interrupt.signalled}) during pre-flight; nothing changed"
    outcome = Outcome(Phase.ABORTED, reason, Phase.ABORTED.exit_code)
    p.reporter.emit("summary", outcome=Phase.ABORTED.value, exit_code=outcome.exit_code,
                    reason=reason, revert_seconds=None, history=[])
    return outcome


class _Resume:
    """Whether a recorded rollout is picked up, and which colour is the new one."""

    def __init__(self, split: Split, recorded: dict[str, Any] | None) -> None:
        try:
            record = parse_record(recorded)
        except RecordError as exc:
            raise InvalidInput(f"lease: {exc}") from exc
        self.record: Record | None = record
        self.resume = record is not None and record.phase.value in RESUMABLE - {
            Phase.PENDING.value}
        self.finishing = record is not None and record.phase in FINISHING
        self.watching = record is not None and record.phase is Phase.WATCHING
        self.deploys_nothing = self.finishing or self.watching
        self.new = Colour(record.new) if record is not None and self.resume else split.new
        on_new = share(split, self.new)
        self.on_new = 100 if on_new is None else on_new  # cannot tell: assume the worst
        self.step = record.step if record is not None else 0


def _run_locked(p: Prepared, lease: Lease, r: _Resume, interrupt: Interrupt, *,
                deployed: dict[str, Any] | None = None) -> Outcome:
    cfg = p.cfg
    new = r.new
    rec = r.record if r.resume else None
    if rec is not None:
        p.reporter.emit("preflight", check="resume",
                        message=f"resuming the recorded rollout at step {r.step + 1} "
                                f"({rec.phase.value}, router at {r.on_new}% on "
                                f"{new.value})")
    elif r.on_new:
        log.warning("traffic is already partly on the new colour; starting from step 1",
                    weight=r.on_new)
    events = EventRecorder(p.client, p.router.objects()[0], identity=lease.identity)
    notifier: Notifier | None = wiring.make_notifier(cfg, p.namespace)
    engine = Engine(router=p.router, analyzer=p.analyzer,
                    plan=p.plan, target=p.target, new=new, reporter=p.reporter, lease=lease,
                    events=events, notifier=notifier, interrupt=interrupt,
                    timeouts=WriteTimeouts(p.client.request_timeout),
                    on_interrupt=cfg.on_interrupt, router_record=dict(cfg.router),
                    traffic_moved=r.on_new > 0, weight_read=r.on_new,
                    deploy=dict(deployed or {}),
                    deployments={c: cfg.deployment(c) for c in ("blue", "green")})
    def on_final(state: State) -> Any:
        care = aftercare.plan(cfg, state.phase, new, promoted_at=engine._wall(state.promoted_at),
                              ended_at=time.time(), moved=engine.traffic_moved)
        if care is not None and aftercare.is_due(care, time.time()):
            care = aftercare.carry_out(p.client, p.namespace, care, p.reporter.emit,
                                       "due before the run ended")
            events.record("ScaledDown", f"Deployment {care.deployment} scaled to {care.to} "
                          f"(from {care.replicas})")
        elif care is not None:
            events.record("ScaleDownScheduled", f"Deployment {care.deployment} is scaled to "
                          f"{care.to} in {aftercare.left(care):.0f}s by the next run or "
                          f"'shifter cleanup {cfg.release}'")
        return care

    engine.on_final = on_final
    if rec is not None:
        # The same rollout goes on: its id (so requests posted to it still act), what it
        # already handled, a pending promote of ITS OWN, its history and start time.
        engine.rollout_id = rec.rollout or engine.rollout_id
        engine.handled = list(rec.handled)
        engine.resume_promote = rec.promote_requested
        # Traffic moved back since the record: a revert had begun (for a watch: any
        # traffic off the promoted colour, which the record read back at 100%).
        engine.resume_moved_back = bool(rec.weight) and (
            r.on_new == 0 or (rec.phase is Phase.WATCHING and r.on_new < 100))
        engine.resumed_watch = (rec.promoted_at, rec.watch_until, rec.reason)
        engine.history = [h.model_dump() for h in rec.history]
        engine.started_wall = rec.started or engine.started_wall
        engine.deploy = dict(deployed or rec.deploy)
        if engine.analyzer is not None:
            engine.analyzer.restore(rec.analysis)  # one test over both runs
    try:
        p.plan_event(new)
        if rec is not None:
            outcome = engine.run(start_step=min(r.step, p.plan.last),
                                 resume_phase=rec.phase.value,
                                 resume_cause=rec.revert_cause.value if rec.revert_cause
                                 else None)
        else:
            outcome = engine.run()
    finally:
        if notifier is not None:
            notifier.close()
    summary = {**asdict(outcome), "phase": outcome.phase.value}
    p.reporter.emit("summary", outcome=outcome.phase.value, exit_code=outcome.exit_code,
                    reason=outcome.reason, cause=engine.last_cause,
                    revert_seconds=outcome.revert_seconds,
                    history=engine.history, new=p.target.service(new),
                    live=p.target.service(new.other))
    log.info("rollout finished", **{k: v for k, v in summary.items() if k != "phase"},
             phase=summary["phase"])
    return outcome
