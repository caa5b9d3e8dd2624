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


FAULTS = """
import resource, json, numpy as np
{setup}
def faults(n_bytes):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(n_bytes // 8)  # every page written
    used = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del a
    return used
first, second = faults(256 << 20), faults(256 << 20)
{after}
print(json.dumps([first, second, rss_drop]))
"""
RSS = "int(open('/proc/self/statm').read().split()[1]) * 4096"


def _faults(setup: str, after: str = "rss_drop = 0") -> list[int]:
    code = FAULTS.format(setup=setup, after=after)
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout)


glibc_only = pytest.mark.skipif(not (hasattr(os, "confstr") and
                                     os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")), reason="glibc only")


@glibc_only
def test_a_large_array_freed_is_reused_without_fresh_pages():
    default_first, default_second, _ = _faults("")
    kept_first, kept_second, _ = _faults("import icam.cli")
    assert default_second > default_first / 2  # glibc's default: unmapped when freed, faulted in again
    assert kept_second < kept_first / 10  # the command line's setting: the same pages again


@glibc_only
def test_freed_memory_is_given_back_when_released():
    after = (f"a = np.ones(256 << 17); del a; held = {RSS}\n"  # 256 MB freed, kept
             f"from icam.core.process import release_freed_memory; release_freed_memory(); rss_drop = held - {RSS}")
    *_, rss_drop = _faults("import icam.cli", after)
    assert rss_drop > 200 << 20  # of the 256 MB freed
