{% raw %}"""Train with several processes on this machine: `python -m PACKAGE.launch --processes 2 [train options]`.

Starts N `python -m PACKAGE.train` processes that train together (engine.distributed: each computes
the gradients of its share of every batch, averaged across processes before each update, so all end
with the same weights), with what JAX's distributed runtime needs: JAX_COORDINATOR_ADDRESS (yours if
set, else a free local port), JAX_NUM_PROCESSES and JAX_PROCESS_ID. Rank 0 writes the run folder (--out, default
runs/<timestamp>); every rank adds RUN/rank-<rank>.json with a digest of its weights. If one process
fails, the others are stopped. On a cluster start one process per task instead, e.g. under Slurm:
`srun --ntasks 8 python -m PACKAGE.train --out runs/big` (jax.distributed reads the job's environment).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import time


def _coordinator_port() -> int:
    """A free port for process 0's coordinator. On Linux it lies outside the kernel's automatic range
    (`ip_local_port_range`): a port from that range could be handed to another socket between this
    check and process 0's bind."""
    low, high = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low, high = (int(value) for value in handle.read().split())
    except (OSError, ValueError):
        pass
    ports = [port for port in range(20000, 65536) if not low <= port <= high]
    for port in random.sample(ports, min(200, len(ports))):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise SystemExit("error: no free port found; set JAX_COORDINATOR_ADDRESS=127.0.0.1:PORT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.launch", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--processes", type=int, default=2, help="how many processes train together (default 2)")
    args, train_args = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if "--out" not in train_args and "--resume" not in train_args:
        train_args += ["--out", str(os.path.join("runs", dt.datetime.now().strftime("%Y%m%d-%H%M%S")))]
    address = os.environ.get("JAX_COORDINATOR_ADDRESS") or f"127.0.0.1:{_coordinator_port()}"
    command = [sys.executable, "-m", f"{__package__}.train", *train_args]
    processes = [
        subprocess.Popen(
            command,
            env={
                **os.environ,
                "JAX_COORDINATOR_ADDRESS": address,
                "JAX_NUM_PROCESSES": str(args.processes),
                "JAX_PROCESS_ID": str(rank),
            },
        )
        for rank in range(args.processes)
    ]
    status = 0
    try:
        while any(process.poll() is None for process in processes):
            failed = [process.returncode for process in processes if process.returncode not in (None, 0)]
            if failed:
                status = failed[0]
                break
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait()
    return status or next((process.returncode for process in processes if process.returncode), 0)


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
