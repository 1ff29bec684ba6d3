"""The release before the first weight: deploy to the idle colour, wait, pre-traffic checks.

Called by ``shifter.rollout``: ``prepare`` before the lock (every refusal, exit 2, with
nothing changed: the patch is tried with ``dryRun=All``), ``execute`` after the lock and
before any traffic moves, ``cleanup`` when the rollout ends. Any failure in ``execute``
leaves all traffic on the live colour (a resumed rollout's traffic on the new colour is
reverted first) and raises an exit-3 error naming what failed.

Kubernetes access (for the Role): ``get`` and ``patch`` on ``deployments.apps`` (the
patch also with ``dryRun=All``); the preview route patches the router's own objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import structlog

from shifter import retry, wiring
from shifter.config import Config
from shifter.errors import Conflict, InvalidInput, NotFound, RolledBack, ShifterError
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.record import Record, RecordError, parse_record
from shifter.release import commands, readiness, spec, template
from shifter.report import Reporter
from shifter.routers.base import Change, Colour, Router, Split, Target
from shifter.smoke import raise_if_failed, run_smoke_checks

log = structlog.get_logger("shifter.release")


class DeployPhase(StrEnum):
    """Where a run is before its first step (the Lease record's ``deploy.phase``)."""

    DEPLOYING = "deploying"  # patching the idle colour's Deployment
    WAITING = "waiting"  # waiting for its rollout to complete
    PRE_TRAFFIC = "pre_traffic"  # preview route, smoke checks, pre_traffic commands
    FAILED = "failed"  # ended before any traffic moved (``reason`` says why)


class NeverReady(RolledBack):
    """The new version never became ready; no traffic was moved (exit 3)."""


class PreTrafficFailed(RolledBack):
    """A pre_traffic command failed; no traffic was moved (exit 3)."""


class Interrupted(ShifterError):
    """SIGINT/SIGTERM before any traffic moved (exit 4)."""

    exit_code = 4


def deployment_ref(cfg: Config, namespace: str, colour: Colour) -> ObjectRef:
    return ObjectRef("apps/v1", "deployments", "Deployment", cfg.deployment(colour.value),
                     namespace)


def new_url(cfg: Config, target: Target, colour: Colour) -> str:
    if isinstance(cfg.new_url, dict):
        return str(cfg.new_url.get(colour.value, ""))
    return cfg.new_url.format(service=target.service(colour), namespace=target.namespace,
                              colour=colour.value, color=colour.value)


class Release:
    """One release's deploy and pre-traffic phase (see the module docstring)."""

    def __init__(self, cfg: Config, client: KubeClient, namespace: str, target: Target,
                 router: Router, reporter: Reporter, interrupt: Any = None) -> None:
        self.cfg = cfg
        self.client = client
        self.namespace = namespace
        self.target = target
        self.router = router
        self.reporter = reporter
        self.interrupt = interrupt
        self.new: Colour | None = None
        self.patch: dict[str, Any] | None = None
        self.images: dict[str, str] = {}
        self.preview: Any = None
        self.preview_added = False
        self.lease: Any = None
        self.recorded: dict[str, Any] | None = None  # the Lease record as found
        self.deployed: dict[str, Any] = {}  # the record's ``deploy`` field, once written

    # -- before the lock: refusals only ------------------------------------------------------
    def prepare(self, split: Split, resuming: Colour | None) -> Colour:
        """Live and idle colour from the router; refuse (exit 2) what cannot be released."""
        new = resuming or split.new
        self.new = new
        if resuming is None and split.weight:
            raise InvalidInput(
                f"the idle colour {new.value} carries {split.weight}% of the traffic: another "
                f"rollout is under way (finish it, or put traffic back with 'shifter abort "
                f"{self.cfg.release}')")
        if self.cfg.preview is not None:
            from shifter.release.preview import make_preview

            self.preview = make_preview(self.cfg.router_kind, self.client, self.target,
                                        self.cfg.router, self.cfg.preview.header, new)
        idle_dep = self._get(new)
        live_dep = self._get(new.other)
        predicted = idle_dep
        deploy = self.cfg.deploy
        if deploy.changes_template:
            where = f"Deployment {self.namespace}/{self.cfg.deployment(new.value)}"
            self.images = spec.resolve_images(deploy.images, idle_dep, where)
            names = [str(c.get("name")) for c in spec.containers_of(idle_dep)]
            tpl = spec.template_patch(self.images, deploy.env, deploy.template_patch, names)
            replicas = int((live_dep.get("spec") or {}).get("replicas", 1))
            self.patch = spec.deployment_patch(idle_dep, tpl, replicas)
            predicted = self._send_patch(dry_run=True)
            if predicted.get("spec") == idle_dep.get("spec"):
                self.patch = None  # already deployed (a resumed rollout, or a re-run)
            elif resuming is not None and split.weight:
                raise InvalidInput(
                    f"deploy: the unfinished rollout to {new.value} has traffic on it, and "
                    f"this run would change what {new.value} runs; finish it with the same "
                    f"--image, or 'shifter abort {self.cfg.release}' first")
        if template.same_template(predicted, live_dep) and not deploy.allow_same:
            images = ", ".join(f"{c}={i}" for c, i in template.images_of(live_dep).items())
            raise InvalidInput(
                f"nothing to release: the {new.value} colour's pod template would equal the "
                f"live {new.other.value} colour's ({images}); give another --image, or "
                f"--allow-same to shift anyway")
        return new

    def dry_run_changes(self) -> list[Change]:
        """The Deployment patch (already sent with dryRun=All) and the preview route's
        patch (sent with dryRun=All here), as --dry-run shows them."""
        if self.new is None:
            return []
        changes: list[Change] = []
        if self.patch is not None:
            ref = deployment_ref(self.cfg, self.namespace, self.new)
            images = ", ".join(f"{c}={i}" for c, i in self.images.items()) or "pod template"
            changes.append(Change(ref, "patch", self.patch, PatchType.STRATEGIC,
                                  summary=f"deploy {images} to {self.new.value}, replicas "
                                          f"{self.patch['spec'].get('replicas')}"))
        if self.preview is not None:
            changes += retry.kube(lambda: self.preview.add(dry_run=True),
                                  what="dry-run the preview route", retry_on_invalid=True)
        return changes

    # -- after the lock, before any weight -----------------------------------------------------
    def execute(self, *, traffic_on_new: bool, lease: Any = None) -> None:
        """Deploy, wait for readiness, preview route, smoke checks, pre_traffic commands.

        ``lease`` (a ``shifter.lease.Lease``) is renewed while waiting, and its record gets
        a ``deploy`` field naming this phase (the engine's first write replaces it)."""
        assert self.new is not None
        self.lease = lease
        try:
            self._record(DeployPhase.DEPLOYING)
            self._deploy()
            self._record(DeployPhase.WAITING)
            self._wait()
            self._record(DeployPhase.PRE_TRAFFIC)
            self._add_preview()
            self._smoke()
            self._pre_traffic()
        except BaseException as exc:
            try:
                self._record(DeployPhase.FAILED, reason=str(exc) or type(exc).__name__)
            except ShifterError as err:
                log.warning("could not record the failed deploy", error=str(err))
            if traffic_on_new:
                retry.revert(lambda: self.router.revert(self._new()), what="revert")
            self.cleanup()
            raise

    def cleanup(self) -> None:
        """Remove the preview route (on promote, revert and every other end)."""
        if self.preview is None or not self.preview_added:
            return
        try:
            retry.kube(self.preview.remove, what="remove the preview route",
                       retry_on_invalid=True)
            self.preview_added = False
            self.reporter.emit("preview", action="removed", message="preview route removed")
        except ShifterError as exc:
            log.warning("could not remove the preview route", error=str(exc))

    # -- steps ---------------------------------------------------------------------------------
    def _record(self, phase: DeployPhase, reason: str = "") -> None:
        if self.lease is None:
            return
        deploy = {"phase": phase.value, "new": self._new().value, "images": self.images,
                  "since": round(time.time(), 3), **({"reason": reason} if reason else {})}
        self.deployed = deploy
        self.lease.write(self._base_record().model_copy(update={"deploy": deploy}))

    def _base_record(self) -> Record:
        """What the Lease holds now (this run's last write, else the record found), so a
        deploy phase never erases the previous rollout's record."""
        if self.lease is not None and self.lease.record is not None:
            return self.lease.record  # type: ignore[no-any-return]
        try:
            return parse_record(self.recorded) or Record()
        except RecordError:
            return Record()

    def _renew(self) -> None:
        """Keep the lock while waiting (the Lease expires after its duration otherwise)."""
        if self.lease is not None and self.lease.due_for_renewal():
            self.lease.write()

    def _tick(self) -> None:
        self._renew()
        self._stop()

    def _new(self) -> Colour:
        assert self.new is not None
        return self.new

    def _get(self, colour: Colour) -> dict[str, Any]:
        ref = deployment_ref(self.cfg, self.namespace, colour)
        try:
            return retry.kube(lambda: self.client.get(ref), what="read the Deployment")
        except NotFound:
            raise InvalidInput(f"deployments.{colour.value}: Deployment {self.namespace}/"
                               f"{ref.name} not found") from None

    def _send_patch(self, *, dry_run: bool) -> dict[str, Any]:
        ref = deployment_ref(self.cfg, self.namespace, self._new())
        try:
            return self.client.patch(ref, self.patch, PatchType.STRATEGIC, dry_run=dry_run)
        except Conflict:
            raise InvalidInput(f"deployments.{self._new().value}: Deployment "
                               f"{self.namespace}/{ref.name} changed while shifter was "
                               f"preparing it; run again") from None
        except ShifterError as exc:
            if getattr(exc, "status", 0) in (400, 422):
                raise InvalidInput(f"deploy: the API server refused the patch of "
                                   f"{ref.name}: {exc}") from None
            raise

    def _deploy(self) -> None:
        if self.patch is None:
            return
        self._send_patch(dry_run=False)
        images = ", ".join(f"{c}={i}" for c, i in self.images.items()) or "pod template"
        self.reporter.emit("deploy", colour=self._new().value, images=self.images,
                           replicas=self.patch["spec"].get("replicas"),
                           message=f"deployed {images} to {self.cfg.deployment(self._new())}")

    def _halted(self) -> bool:
        self._renew()
        return bool(getattr(self.interrupt, "signalled", None))

    def _stop(self) -> None:
        name = getattr(self.interrupt, "signalled", None)
        if name:
            raise Interrupted(f"interrupted by {name} before any traffic moved; traffic "
                              f"stays on {self._new().other.value}")

    def _wait(self) -> None:
        ref = deployment_ref(self.cfg, self.namespace, self._new())

        def progress(st: readiness.RolloutStatus) -> None:
            self.reporter.emit("ready", colour=self._new().value, ready=st.new_ready,
                               desired=st.desired, done=st.done,
                               message=f"{ref.name}: {st.new_ready}/{st.desired} ready"
                                       f"{'' if st.done else ' (' + st.message + ')'}")

        try:
            readiness.wait_ready(lambda: retry.kube(lambda: self.client.get(ref),
                                                    what="read the Deployment"),
                                 timeout=self.cfg.deploy.ready_timeout, on_progress=progress,
                                 stop=self._tick)
        except readiness.NotReady as exc:
            raise NeverReady(f"the new version never became ready: {exc.why}; conditions: "
                             f"{readiness.conditions_reason(exc.dep)}; no traffic was "
                             f"moved") from None

    def _add_preview(self) -> None:
        if self.cfg.preview is None:
            return
        if self.preview is None:
            from shifter.release.preview import why_none

            self.reporter.emit("preview", action="none",
                               message=f"no preview route: {why_none(self.cfg.router_kind)}; "
                                       f"requests reach the new colour only by weight")
            return
        retry.kube(self.preview.add, what="add the preview route", retry_on_invalid=True)
        self.preview_added = True
        self.reporter.emit("preview", action="added", header=self.cfg.preview.header,
                           value=self._new().value,
                           message=f"preview route: requests with "
                                   f"'{self.cfg.preview.header}: {self._new().value}' reach "
                                   f"{self.target.service(self._new())}")

    def _smoke(self) -> None:
        new = self._new()
        checks = wiring.make_smoke(self.cfg, new.value)
        if not checks:
            return
        results = run_smoke_checks(checks, service=self.target.service(new),
                                   namespace=self.namespace, colour=new.value)
        for r in results:
            self.reporter.emit("preflight", check="smoke", message=f"smoke {r.name}: "
                               f"{'ok' if r.ok else 'FAILED'} ({r.status or r.error})")
        raise_if_failed(results)

    def _pre_traffic(self) -> None:
        new = self._new()
        preview = self.cfg.preview if self.preview_added else None
        for i, cmd in enumerate(self.cfg.pre_traffic):
            name = cmd.name or str(i + 1)
            try:
                argv = commands.argv_of(cmd.run, cmd.shell)
            except ValueError as exc:
                raise InvalidInput(f"pre_traffic[{i}].run: {exc}") from None
            env = commands.command_env(
                os.environ, release=self.cfg.release, namespace=self.namespace,
                colour=new.value, service=self.target.service(new),
                url=new_url(self.cfg, self.target, new),
                preview_url=(preview.url or "") if preview else None,
                preview_header=f"{preview.header}: {new.value}" if preview else None,
                extra=cmd.env)
            self.reporter.emit("pretraffic", name=name, status="started",
                               message=f"pre-traffic {name}: {cmd.run}")
            result = commands.run_command(name, argv, env, timeout=cmd.timeout,
                                          stopped=self._halted)
            self.reporter.emit("pretraffic", name=name, status="ok" if result.ok else "failed",
                               exit_code=result.exit_code, seconds=round(result.seconds, 2),
                               tail=list(result.tail),
                               message=f"pre-traffic {name}: "
                                       f"{'ok' if result.ok else 'FAILED'} ({result.why})")
            if result.stopped:
                self._stop()
            if not result.ok:
                tail = " | ".join(result.tail[-5:])
                raise PreTrafficFailed(f"pre-traffic command {name!r} failed ({result.why}); "
                                       f"last output: {tail or '(none)'}; no traffic was "
                                       f"moved")


def summary_of(deps: Mapping[Colour, Mapping[str, Any]]) -> dict[str, Any]:
    """Per colour: images and ready/desired replicas (for ``status``)."""
    out: dict[str, Any] = {}
    for colour, dep in deps.items():
        st = readiness.rollout_status(dep)
        out[colour.value] = {"images": template.images_of(dep), "ready": st.ready,
                             "desired": st.desired}
    return out
