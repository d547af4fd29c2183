"""`spatialdreamer render --ray ADDRESS|local`: the chunks of a render as tasks of a pool of Ray actors.

    for p in render_on_ray(request, "local", workers=2): ...   # Progress; returns a RenderReport

The driver plans the render and owns the manifest's start and the master; each actor (one per
worker; locally `num_cpus=0` with a `spatialdreamer_worker` custom resource of 1 so actors never starve
each other on small machines, on a cluster one CPU, and `num_gpus=1` when the device is CUDA) holds the
media open and the depth model loaded, and renders whole chunks with :func:`engine.jobs.render.render`
(`chunk=ID`):
it reads the source and writes its chunk on shared storage itself — frames never travel through the
object store. A chunk is committed only when its file is complete, so a chunk whose worker dies is
simply given to another worker (a fresh actor replaces the dead one); the chunk's frames are the same
whoever renders it. Scheduling prefers the chunk whose predecessor is committed (it continues from the
saved DVG state), then the first chunk of an untouched shot, then any (it warms up from the shot start).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

from engine.errors import InputError, SpatialDreamerError, UsageError
from engine.farm.path_map import PathMap, map_render_request
from engine.jobs.render import HeldJob, RenderRequest, plan_render, render
from engine.jobs.render_chunks import Chunk, Manifest, valid_commit
from engine.progress import CancelToken, Progress

WORKER_RESOURCE = "spatialdreamer_worker"
OBJECT_STORE_BYTES = 300 * 1024 * 1024
MAX_ATTEMPTS = 3
PLACE_TIMEOUT_S = 120.0


def import_ray():
    """The ray module, or a one-line UsageError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--ray needs Ray, which is not installed",
                         hint="pip install 'ray>=2.9' (or the farm extra); everything else works without it") from exc
    return ray


def check_address(address: str, timeout: float = 3.0) -> None:
    """Refuse, within `timeout` seconds, a Ray head at HOST:PORT that does not answer (ray.init would hang)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: give HOST:PORT of a Ray head (e.g. 10.0.0.5:6379) or 'local'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"no Ray cluster answers at {address} ({exc.strerror or exc})",
                         hint="Start it with `ray start --head`, or check the address and the firewall") from exc


def start_local_ray(ray, workers: int) -> None:
    """A local Ray instance for `workers` chunk workers: the custom resource, a small object store
    (frames never go through it), no dashboard."""
    ray.init(num_cpus=max(1, os.cpu_count() or 1), resources={WORKER_RESOURCE: workers},
             object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False, log_to_driver=False,
             configure_logging=False)


def _start_ray(ray, address: str, workers: int) -> float:
    """Connect to (or start) Ray; returns the seconds it took."""
    t0 = time.perf_counter()
    if address == "local":
        start_local_ray(ray, workers)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return time.perf_counter() - t0


def actor_options(local: bool, device: str, cluster_gpus: float, gpus_per_worker: float | None = None) -> dict:
    """Ray options of one chunk worker.

    Local: `num_cpus=0` and one unit of the custom resource (so N workers never starve each other on
    a small machine); on a cluster: one CPU each. GPUs: `gpus_per_worker` when given, else 1 when the
    device asks for CUDA (`cuda`, `cuda:N`) or is `auto` on a cluster that has GPUs, else none.
    """
    wants_cuda = device.startswith("cuda") or (device == "auto" and cluster_gpus >= 1)
    gpus = gpus_per_worker if gpus_per_worker is not None else (1.0 if wants_cuda else 0.0)
    options: dict = {"num_cpus": 0, "resources": {WORKER_RESOURCE: 1}} if local else {"num_cpus": 1}
    if gpus > 0:
        options["num_gpus"] = gpus
    return options


def worker_request(request: RenderRequest, path_map: PathMap, gpus: float) -> RenderRequest:
    """What an actor renders: every path as the workers see it; a GPU actor's device is `cuda` (Ray
    makes the GPU it assigned the only visible one, so `cuda:1` would name a device it cannot see)."""
    request = map_render_request(request, path_map)
    c = request.convert
    if gpus > 0 and c.device.startswith("cuda"):
        c = replace(c, device="cuda", depth_config=replace(c.depth_config, device="cuda"))
    return replace(request, convert=c)


def _worker_class(ray):
    @ray.remote(max_restarts=0, max_concurrency=2)
    class ChunkWorker:
        """Renders whole chunks of one render request, holding the media open and the depth model
        loaded between chunks; `progress()` answers from a second thread while `render` runs.
        `render` is not idempotent per call (it commits to the manifest): never retried by Ray."""

        def __init__(self, request: RenderRequest) -> None:
            self.request = request
            self.held = HeldJob()
            self.current: tuple[str, int] | None = None

        def pid(self) -> int:
            return os.getpid()

        def progress(self) -> tuple[str, int] | None:
            return self.current

        def jobs_opened(self) -> int:
            return self.held.opened

        @ray.method(max_task_retries=0)
        def render(self, chunk_id: str) -> tuple[str, int, float]:
            t0 = time.perf_counter()
            job = render(replace(self.request, chunk=chunk_id), held=self.held)
            self.current = (chunk_id, 0)
            try:
                while True:
                    p = next(job)
                    if p.stage == "render":
                        self.current = (chunk_id, p.done)
            except StopIteration:
                pass
            finally:
                self.current = None
            return chunk_id, os.getpid(), time.perf_counter() - t0

    return ChunkWorker


def _next_chunk(todo: list[Chunk], busy: set[str], done: set[str], started_shots: set[int]) -> Chunk | None:
    free = [c for c in todo if c.id not in busy and c.id not in done]
    ready = [c for c in free if not c.first_in_shot and any(d.end == c.start and d.shot == c.shot and d.id in done
                                                            for d in todo)]
    fresh = [c for c in free if c.first_in_shot and c.shot not in started_shots]
    return (ready or fresh or free or [None])[0]


def render_on_ray(request: RenderRequest, address: str, workers: int = 2, cancel: CancelToken | None = None,
                  path_map: PathMap = (), gpus_per_worker: float | None = None) -> Iterator[Progress]:
    """Render `request`'s chunks on Ray actors, then assemble the master here; a generator of Progress
    (stage "render" in frames: "chunk ID -> pid N" when given out, "ID by pid N" when committed)
    returning a RenderReport. `path_map`: how the workers see this machine's paths (`--path-map`).
    When Ray is already initialised in this process it is used as it is (and left running)."""
    cancel = cancel or CancelToken()
    ray = import_ray()
    if request.chunk is not None or request.assemble_only or request.analyse_shot is not None:
        raise UsageError("--ray runs the whole render; leave out --chunk, --analyse-shot and --assemble")
    if workers < 1:
        raise UsageError(f"--workers {workers} must be at least 1")
    if address != "local":
        check_address(address)  # seconds, before anything else (ray.init would hang on a dead address)
    t_start = time.perf_counter()
    chunks = plan_render(request)
    folder = request.folder()
    manifest = Manifest(folder).read() or {"committed": {}}
    done = {c.id for c in chunks if valid_commit(folder, manifest["committed"].get(c.id))}
    kept = tuple(sorted(done))
    if len(done) < len(chunks):
        owned = not ray.is_initialized()
        if owned:
            started = _start_ray(ray, address, workers)
            yield Progress("note", 0, 0, message=f"Ray {'started' if address == 'local' else 'joined'} "
                                                 f"in {started:.1f} s; {workers} worker(s)")
        try:
            local = address == "local"
            options = actor_options(local, request.convert.device, ray.cluster_resources().get("GPU", 0),
                                    gpus_per_worker)
            remote = worker_request(request, path_map, options.get("num_gpus", 0))
            yield from _run_pool(ray, remote, options, chunks, done, workers, cancel)
        finally:
            if owned:
                ray.shutdown()
    final = render(request)  # every chunk committed: assembles the master (or says it is up to date)
    try:
        while True:
            yield next(final)
    except StopIteration as stop:
        report = stop.value
    return replace(report, kept=kept, rendered=tuple(c.id for c in chunks if c.id not in kept),
                   seconds=time.perf_counter() - t_start)


def _partial_frames(ray, in_flight: dict) -> int:
    """Frames rendered so far of the chunks in flight (asked of each busy actor; a slow or dead one counts 0)."""
    refs = [worker[0].progress.remote() for worker, _ in in_flight.values()]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0.2)
    frames = 0
    for ref in ready:
        try:
            current = ray.get(ref)
        except ray.exceptions.RayError:
            continue
        frames += current[1] if current else 0
    return frames


def _run_pool(ray, request: RenderRequest, options: dict, chunks: tuple[Chunk, ...], done: set[str],
              workers: int, cancel: CancelToken) -> Iterator[Progress]:
    worker_cls = _worker_class(ray)

    def new_worker():
        actor = worker_cls.options(**options).remote(request)
        ready, _ = ray.wait([ref := actor.pid.remote()], timeout=PLACE_TIMEOUT_S)
        if not ready:
            raise UsageError(f"the Ray cluster could not place a chunk worker in {PLACE_TIMEOUT_S:.0f} s "
                             f"(each asks for {options})", hint="Use fewer --workers, or add nodes")
        return actor, ray.get(ref)

    idle = [new_worker() for _ in range(workers)]
    in_flight: dict = {}  # object ref -> ((actor, pid), chunk)
    attempts: dict[str, int] = {}
    started_shots = {c.shot for c in chunks if c.id in done}
    total = sum(c.frames for c in chunks)
    frames = sum(c.frames for c in chunks if c.id in done)
    todo = list(chunks)
    shown = -1
    while len(done) < len(chunks):
        cancel.check()
        while idle:
            chunk = _next_chunk(todo, {c.id for _, c in in_flight.values()}, done, started_shots)
            if chunk is None:
                break
            worker = idle.pop(0)
            attempts[chunk.id] = attempts.get(chunk.id, 0) + 1
            started_shots.add(chunk.shot)
            in_flight[worker[0].render.remote(chunk.id)] = (worker, chunk)
            yield Progress("render", frames, total, message=f"chunk {chunk.id} -> pid {worker[1]}")
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
        for ref in ready:
            worker, chunk = in_flight.pop(ref)
            try:
                _, pid, seconds = ray.get(ref)
            except ray.exceptions.RayActorError:
                if attempts[chunk.id] >= MAX_ATTEMPTS:
                    raise
                yield Progress("note", 0, 0, message=f"worker lost while rendering {chunk.id}: given to another")
                idle.append(new_worker())
                continue
            except ray.exceptions.RayTaskError as exc:  # the chunk failed on the worker: its own one-line error
                cause = getattr(exc, "cause", None)
                if isinstance(cause, SpatialDreamerError):
                    raise cause from None
                raise
            done.add(chunk.id)
            frames += chunk.frames
            idle.append(worker)
            yield Progress("render", frames, total, message=f"{chunk.id} by pid {pid} in {seconds:.1f} s")
        if not ready and in_flight:
            now = frames + _partial_frames(ray, in_flight)
            if now != shown:
                shown = now
                yield Progress("render", now, total)
