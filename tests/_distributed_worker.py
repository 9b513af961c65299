"""One process of the two-process ``vc.solve_batch(..., devices="all")`` test (tests/test_distributed.py).

    python tests/_distributed_worker.py PORT NUM_PROCESSES PROCESS_ID LOCAL_DEVICES OUT.npz

Every process joins ``jax.distributed`` on 127.0.0.1:PORT (CPU backend, gloo collectives) with
LOCAL_DEVICES CPU devices of its own, then calls the same ``solve_batch(..., devices="all")`` on the
same inputs and writes the whole result it got back.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

N = 65
CHUNK = 4  # 7 lanes in two chunks of 4 (the last one padded): one lane per device per chunk
COSH1 = float(np.cosh(1.0))
# Hanging cables over [-1, 1] with batched end heights and a batched height shift s (y = f + s is a
# catenary).  Lane 3 has equal ends at 1.2 < 1.5089: no catenary exists, its Newton loop fails.
LEFT = np.array([COSH1, 1.8, 2.0, 1.2, 1.6, 1.7, 2.2])
RIGHT = np.array([COSH1, 1.6, 1.7, 1.2, 1.9, 1.7, 2.0])
SHIFT = np.array([0.0, 0.1, -0.1, 0.0, 0.05, 0.2, 0.0])
FAILING = 3


def shifted_catenary(f, df, x, p):
    return (f + p["s"]) * jnp.sqrt(1.0 + df**2)


def solve_batch(**kw):
    """The batch every process solves (the test's one-process reference calls it too)."""
    import varcalc as vc

    problem = vc.Problem(
        shifted_catenary, (-1.0, 1.0), bc={"left": COSH1, "right": COSH1}, params={"s": 0.0}, name="shifted_catenary"
    )
    return vc.solve_batch(problem, n=N, params={"s": SHIFT}, bc={"left": LEFT, "right": RIGHT}, chunk_size=CHUNK, **kw)


def main(port, num_processes, process_id, local_devices, out):
    jax.config.update("jax_num_cpu_devices", local_devices)
    if num_processes > 1:
        # gloo is jax 0.10's default CPU collectives; set explicitly so the cross-process
        # all-gather of the results does not depend on that default.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}",
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=120,
            coordinator_bind_address=f"127.0.0.1:{port}",
        )
    assert jax.process_count() == num_processes and jax.process_index() == process_id
    assert len(jax.local_devices()) == local_devices
    b = solve_batch(devices="all")
    np.savez(
        out,
        f=b.f,
        x=b.x,
        value=b.value,
        status=b.status,
        iterations=b.iterations,
        converged=b.converged,
        residual=b.residual,
        devices=b.devices,
        chunk=b.chunk_size,
        n_global=len(jax.devices()),
        n_local=len(jax.local_devices()),
    )
    if num_processes > 1:
        jax.distributed.shutdown()


if __name__ == "__main__":
    port, n, i, local, out = sys.argv[1:]
    main(port, int(n), int(i), int(local), out)
