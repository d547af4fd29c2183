"""The pure session state machine: what the loop does on each XrSessionState."""

from __future__ import annotations

from studio.xr.lifecycle import Action, SessionLifecycle, XrState


def test_xr_lifecycle_ready_begins_once():
    life = SessionLifecycle()
    assert life.on_state(XrState.IDLE) is Action.NONE and not life.should_wait_frame
    assert life.on_state(XrState.READY) is Action.BEGIN
    life.began()
    assert life.should_wait_frame  # frames run from READY on once the session has begun
    assert life.on_state(XrState.READY) is Action.NONE  # a repeated READY does not begin twice


def test_xr_lifecycle_layers_only_when_visible():
    life = SessionLifecycle()
    life.on_state(XrState.READY)
    life.began()
    life.on_state(XrState.SYNCHRONIZED)
    assert life.should_wait_frame and not life.shows_layers
    for state in (XrState.VISIBLE, XrState.FOCUSED):
        life.on_state(state)
        assert life.shows_layers


def test_xr_lifecycle_stopping_ends_and_may_begin_again():
    life = SessionLifecycle()
    life.on_state(XrState.READY)
    life.began()
    assert life.on_state(XrState.STOPPING) is Action.END
    life.ended()
    assert not life.should_wait_frame
    assert life.on_state(XrState.IDLE) is Action.NONE
    assert life.on_state(XrState.READY) is Action.BEGIN  # the runtime may hand the session back


def test_xr_lifecycle_stopping_before_begin_needs_no_end():
    assert SessionLifecycle().on_state(XrState.STOPPING) is Action.NONE


def test_xr_lifecycle_exiting_destroys_when_asked_else_reconnects():
    asked = SessionLifecycle(exit_requested=True)
    assert asked.on_state(XrState.EXITING) is Action.DESTROY
    assert SessionLifecycle().on_state(XrState.EXITING) is Action.RECONNECT


def test_xr_lifecycle_loss_pending_reconnects_and_history_is_kept():
    life = SessionLifecycle()
    for state in (XrState.IDLE, XrState.READY):
        life.on_state(state)
    assert life.on_state(XrState.LOSS_PENDING) is Action.RECONNECT
    assert life.history == [XrState.IDLE, XrState.READY, XrState.LOSS_PENDING]
