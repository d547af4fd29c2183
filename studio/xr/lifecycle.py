"""The OpenXR session life cycle as a pure state machine (no runtime calls, easy to test).

`SessionLifecycle.on_state(state)` answers what the frame loop must do when the runtime reports a
new session state; the loop (`session.py`) performs it. States follow XrSessionState; the values are
the OpenXR enum values so a real `xr.SessionState` converts with `XrState(int(value))`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum


class XrState(IntEnum):
    UNKNOWN = 0
    IDLE = 1
    READY = 2
    SYNCHRONIZED = 3
    VISIBLE = 4
    FOCUSED = 5
    STOPPING = 6
    LOSS_PENDING = 7
    EXITING = 8


class Action(Enum):
    NONE = "none"
    BEGIN = "begin"  # xrBeginSession, then run the frame loop
    END = "end"  # xrEndSession (STOPPING); the session may become READY again
    DESTROY = "destroy"  # xrDestroySession; the preview is finished (we asked to exit)
    RECONNECT = "reconnect"  # tear down session and instance, then try again (runtime lost or quit)


# States in which xrWaitFrame/xrBeginFrame/xrEndFrame must run (the session is "running").
RUNNING_STATES = frozenset({XrState.SYNCHRONIZED, XrState.VISIBLE, XrState.FOCUSED})
# States in which the compositor shows our layers; in SYNCHRONIZED frames are ended with no layers.
VISIBLE_STATES = frozenset({XrState.VISIBLE, XrState.FOCUSED})


@dataclass
class SessionLifecycle:
    """Tracks one XrSession's state; `exit_requested` is set when the user closes the preview."""

    state: XrState = XrState.UNKNOWN
    running: bool = False  # between a successful xrBeginSession and xrEndSession
    exit_requested: bool = False
    history: list[XrState] = field(default_factory=list)

    def on_state(self, state: XrState) -> Action:
        self.state = state
        self.history.append(state)
        if state is XrState.READY:
            return Action.NONE if self.running else Action.BEGIN
        if state is XrState.STOPPING:
            return Action.END if self.running else Action.NONE
        if state is XrState.EXITING:
            return Action.DESTROY if self.exit_requested else Action.RECONNECT
        if state is XrState.LOSS_PENDING:
            return Action.RECONNECT
        return Action.NONE

    def began(self) -> None:
        self.running = True

    def ended(self) -> None:
        self.running = False

    @property
    def should_wait_frame(self) -> bool:
        """xrWaitFrame runs once the session has begun (READY after BEGIN) until it ends."""
        return self.running and self.state in RUNNING_STATES | {XrState.READY}

    @property
    def shows_layers(self) -> bool:
        return self.state in VISIBLE_STATES
