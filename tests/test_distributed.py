"""vc.solve_batch(..., devices="all") across processes: two processes on 127.0.0.1, joined with
``jax.distributed.initialize`` (CPU backend, gloo collectives), two CPU devices each, share one
sharded batch (a 4-device mesh; chunks of 4 lanes, one lane per device) and each gets the whole
result, equal to a one-process, one-device solve of the same batch.

Compile budget: each worker compiles the sharded solver once; the reference (in this process)
compiles the unsharded one.  About 10 s on 2 cores.
"""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import _distributed_worker as W
import numpy as np

TIMEOUT = 240  # seconds: a hang (e.g. a process waiting for a peer) fails the test instead of blocking
PROCESSES = 2
LOCAL_DEVICES = 2


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _workers(tmp_path):
    """Start the processes and give their result files; on leaving, wait for them (raise with their
    logs if one failed or hung; kill any still running)."""
    root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        VARCALC_NO_CACHE="1",
        PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    env.pop("XLA_FLAGS", None)  # the device count comes from jax_num_cpu_devices in the worker
    port = _free_port()
    outs, logs, procs = [], [], []
    try:
        for i in range(PROCESSES):
            outs.append(tmp_path / f"result{i}.npz")
            logs.append(open(tmp_path / f"log{i}.txt", "w+"))
            procs.append(
                subprocess.Popen(
                    [sys.executable, W.__file__, str(port), str(PROCESSES), str(i), str(LOCAL_DEVICES), str(outs[i])],
                    cwd=root,
                    env=env,
                    stdout=logs[i],
                    stderr=subprocess.STDOUT,
                )
            )
        yield outs
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=TIMEOUT))
            except subprocess.TimeoutExpired:
                codes.append("timed out")
        if any(c != 0 for c in codes):
            text = []
            for i, f in enumerate(logs):
                f.seek(0)
                text.append(f"--- process {i} (exit {codes[i]}) ---\n{f.read()[-3000:]}")
            raise AssertionError("\n".join(text))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in logs:
            f.close()


def test_two_processes_share_one_sharded_batch(tmp_path):
    with _workers(tmp_path) as outs:
        ref = W.solve_batch()  # meanwhile here: one process, one device, the same chunks
    ok = np.arange(len(W.LEFT)) != W.FAILING
    assert ref.converged.tolist() == ok.tolist() and ref.devices == 1
    for i, path in enumerate(outs):
        with np.load(path) as got:
            assert int(got["n_global"]) == PROCESSES * LOCAL_DEVICES and int(got["n_local"]) == LOCAL_DEVICES
            assert int(got["devices"]) == PROCESSES * LOCAL_DEVICES and int(got["chunk"]) == W.CHUNK, i
            assert got["status"].tolist() == ref.status.tolist(), i
            assert got["iterations"].tolist() == ref.iterations.tolist(), i
            assert got["converged"].tolist() == ok.tolist(), i
            np.testing.assert_array_equal(got["x"], ref.x)
            np.testing.assert_allclose(got["f"][ok], ref.f[ok], rtol=0, atol=1e-12)
            np.testing.assert_allclose(got["value"][ok], ref.value[ok], rtol=1e-12, atol=0)
            np.testing.assert_allclose(got["residual"][ok], ref.residual[ok], rtol=1e-6, atol=1e-14)
