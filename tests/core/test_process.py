"""The command line's process settings (icam.core.process), checked in fresh interpreters: BLAS is loaded once."""

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import icam.cli, json; from threadpoolctl import threadpool_info; "
         "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas']))")


def _openblas_threads(env_value: str | None) -> list[int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_command_line_runs_blas_on_one_thread():
    threads = _openblas_threads(None)
    if not threads:
        pytest.skip("numpy here is not built on OpenBLAS")
    assert threads == [1] * len(threads)


def test_a_users_blas_setting_is_kept():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: OpenBLAS runs one thread whatever is asked")
    threads = _openblas_threads("2")
    if not threads:
        pytest.skip("numpy here is not built on OpenBLAS")
    assert threads == [2] * len(threads)
