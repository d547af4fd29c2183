"""The signal guard: the first signal cancels a running job, a second (or one outside a job) stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from engine.api import CancelToken
from engine.cli.signals import Interrupted, SignalGuard, exit_code_for


def test_exit_codes_follow_the_shell_convention():
    assert [exit_code_for(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)] == [130, 143, 129]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_first_signal_cancels_the_job_second_interrupts(signum):
    guard, token = SignalGuard(), CancelToken()
    before = signal.getsignal(signum)
    with guard.watching(token):
        os.kill(os.getpid(), signum)
        assert token.cancelled and guard.exit_code == exit_code_for(signum)
        with pytest.raises(Interrupted) as stop:
            os.kill(os.getpid(), signal.SIGINT)
    assert stop.value.signum == signal.SIGINT and guard.exit_code == exit_code_for(signum)  # the first one counts
    assert signal.getsignal(signum) is before


def test_a_signal_outside_a_job_interrupts_at_once():
    guard = SignalGuard()
    with guard.installed(), pytest.raises(Interrupted) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.exit_code == 143 and not isinstance(stop.value, Exception)


def test_nested_installs_restore_the_original_handlers_once():
    guard = SignalGuard()
    before = signal.getsignal(signal.SIGHUP)
    with guard.installed():
        with guard.watching(CancelToken()):
            assert signal.getsignal(signal.SIGHUP) is guard
        assert signal.getsignal(signal.SIGHUP) is guard
    assert signal.getsignal(signal.SIGHUP) is before
