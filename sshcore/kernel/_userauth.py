"""RFC 4252 user authentication protocol, sans-I/O, client and server.

The kernel runs the protocol (method lists, partial success, banners, attempt limits);
the methods themselves are plugins (:class:`sshcore.interfaces.AuthMethod`).  The
connection that owns this layer is seen only through :class:`sshcore.kernel._layer._LayerHost`.

Client theory of operation::

    WAIT_SERVICE --SERVICE_ACCEPT--> send "none" --FAILURE(list)--> TRYING(method)
    TRYING: method.next_attempt() -> AuthSend: send request, wait reply
                                  -> AuthAsk: emit AuthInputRequested, wait provide_auth_input()
                                  -> AuthDone: method exhausted, try the next allowed method
    FAILURE: update the allowed list, ask the same method again;  60..79: method.receive()
    SUCCESS: DONE (connection protocol starts);  no method left: AuthExhausted

Server theory of operation::

    WAIT_SERVICE --SERVICE_REQUEST(ssh-userauth)--> WAIT_REQUEST
    WAIT_REQUEST --USERAUTH_REQUEST--> method.request() -> AuthAsk: emit AuthRequested,
        wait answer_auth(); AuthSend: send payloads (e.g. PK_OK), back to WAIT_REQUEST;
        AuthDone: SUCCESS (DONE) or FAILURE(allowed, partial)
    The max_auth_tries-th failure (as OpenSSH's MaxAuthTries), or the login timeout: disconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import events as ev
from ._kexinit import shared_names
from .._wire import SSHReader, boolean, byte, name_list, string
from ..errors import (DisconnectReason, LocalProtocolError, NoMoreAuthMethodsError,
                      RemoteProtocolError, ServiceNotAvailableError)
from ..interfaces import AuthAsk, AuthDone, AuthSend, ClientAuthContext, ServerAuthContext
from .messages import MessageType

if TYPE_CHECKING:
    from ._layer import _LayerHost

logger = logging.getLogger("sshcore.userauth")
SERVICE = "ssh-connection"
#: OpenSSH 8.9's publickey variant whose request also names the server's host key (the
#: server advertises it in EXT_INFO; the "publickey" method plugin serves it).
HOSTBOUND = "publickey-hostbound-v00@openssh.com"


class ClientUserauth:
    __slots__ = ("host", "_send", "_emit", "username", "order", "allowed", "methods",
                 "exhausted", "current", "waiting_input", "waiting_reply", "done")

    def __init__(self, host: _LayerHost) -> None:
        self.host = host
        self._send = host.send_payload
        self._emit = host._events.append
        self.username = host.config.username
        self.order = [m for m in host.config.auth_method_names()
                      if host.registry.get("auth", m).client is not None]
        self.allowed: list[str] | None = None
        self.methods: dict[str, Any] = {}
        self.exhausted: set[str] = set()
        self.current: str | None = None
        self.waiting_input = False
        self.waiting_reply = False
        self.done = False

    def start(self) -> None:
        self._send_request("none", b"")

    def _send_request(self, method: str, body: bytes, wire_name: str | None = None) -> None:
        self.current = method
        self.waiting_reply = True
        self._send(b"".join((byte(MessageType.USERAUTH_REQUEST), string(self.username),
                             string(SERVICE), string(wire_name or method), body)))

    def _context(self) -> ClientAuthContext:
        host = self.host
        assert host.session_id is not None
        return ClientAuthContext(self.username, SERVICE, host.session_id, host.server_sig_algs,
                                 host.config.user_sig_algs(), host.config.credentials,
                                 host.host_key_blob, host.host_key_signature,
                                 dict(host.peer_extensions))

    def _try_next(self) -> None:
        while True:
            method = self.current
            if method is None or method == "none" or method in self.exhausted or (
                    self.allowed is not None and method not in self.allowed):
                method = next((m for m in self.order if m not in self.exhausted
                               and (self.allowed is None or m in self.allowed)), None)
                if method is None:
                    self.current = None
                    self._emit(ev.AuthExhausted(tuple(self.allowed or ())))
                    return
                self.current = method
            obj = self.methods.get(method)
            if obj is None:
                factory = self.host.registry.get("auth", method).client
                obj = self.methods[method] = factory(self._context())
            if self._act(method, obj.next_attempt()):
                return

    def _act(self, method: str, action: Any) -> bool:
        """Carry out a method's action; False means try the next method."""
        if isinstance(action, AuthSend):
            if action.payloads:  # method-specific replies (e.g. keyboard-interactive answers)
                self.waiting_reply = True
                for payload in action.payloads:
                    self._send(payload)
            else:
                self._send_request(method, action.body, action.method)
            return True
        if isinstance(action, AuthAsk):
            self.waiting_input = True
            self._emit(ev.AuthInputRequested(method, action.kind, dict(action.info)))
            return True
        self.exhausted.add(method)
        return False

    def provide_input(self, answer: Any) -> None:
        if not self.waiting_input or self.current is None:
            raise LocalProtocolError("no authentication input was requested")
        self.waiting_input = False
        method = self.current
        if not self._act(method, self.methods[method].resume(answer)):
            self._try_next()

    def dispatch(self, mtype: int, payload: bytes) -> None:
        if self.done:
            if mtype == MessageType.USERAUTH_BANNER:
                return
            raise RemoteProtocolError(f"unexpected userauth message {mtype} after authentication")
        if mtype == MessageType.USERAUTH_BANNER:
            r = SSHReader(payload, 1)
            msg, lang = r.text(), r.text("ascii")
            self._emit(ev.AuthBannerReceived(msg, lang))
            return
        if not self.waiting_reply:
            raise RemoteProtocolError(f"unexpected userauth message {mtype}")
        if mtype == MessageType.USERAUTH_SUCCESS:
            if len(payload) != 1:
                raise RemoteProtocolError("malformed USERAUTH_SUCCESS")
            self.done = True
            self.waiting_reply = False
            self.host.on_auth_success(self.username)
            return
        if mtype == MessageType.USERAUTH_FAILURE:
            r = SSHReader(payload, 1)
            allowed = r.name_list()
            partial = r.boolean()
            r.finish()
            self.waiting_reply = False
            self.allowed = allowed
            if partial:
                logger.debug("partial success with %s; continue with %s", self.current, allowed)
            self._try_next()
            return
        if 60 <= mtype <= 79 and self.current in self.methods:
            self.waiting_reply = False
            method = self.current
            assert method is not None
            if not self._act(method, self.methods[method].receive(payload)):
                self._try_next()
            return
        raise RemoteProtocolError(f"unexpected userauth message {mtype}")


class ServerUserauth:
    __slots__ = ("host", "_send", "_emit", "allowed", "failures", "current", "waiting_answer",
                 "done", "deadline", "completed", "required")

    def __init__(self, host: _LayerHost) -> None:
        self.host = host
        self._send = host.send_payload
        self._emit = host._events.append
        cfg = host.config
        offered = cfg.auth_methods_offered
        # A tuple shared by the connections configured alike.
        self.allowed = shared_names([m for m in cfg.auth_method_names()
                                     if m != "none" and host.registry.get("auth", m).server is not None
                                     and (offered is None or m in offered)])
        self.failures = 0
        self.current: tuple[str, str, Any] | None = None  # (username, method, ServerAuth)
        self.waiting_answer = False
        self.done = False
        self.deadline: float | None = None
        #: methods that already succeeded, per user (for required sequences)
        self.completed: dict[str, list[str]] = {}
        self.required = tuple(tuple(seq) for seq in (cfg.auth_methods_required or ()))

    def _context(self, method: str = "") -> ServerAuthContext:
        host = self.host
        assert host.session_id is not None
        return ServerAuthContext(host.session_id, host.config.user_sig_algs(), host.decode_user_key,
                                 host.host_key_blob, method)

    def send_banner(self, text: str) -> None:
        self._send(byte(MessageType.USERAUTH_BANNER) + string(text) + string(""))

    def dispatch(self, mtype: int, payload: bytes) -> None:
        if mtype == MessageType.USERAUTH_REQUEST:
            if self.done:
                return  # RFC 4252 section 5.1: silently ignore after success
            if self.waiting_answer:
                raise RemoteProtocolError("new USERAUTH_REQUEST while the previous one is pending")
            r = SSHReader(payload, 1)
            username = r.text()
            service = r.text("ascii")
            method = r.text("ascii")
            body = r.rest()
            if service != SERVICE:
                raise ServiceNotAvailableError(f"service {service!r} is not available")
            self._request(username, service, method, body)
            return
        if 60 <= mtype <= 79 and self.current is not None and not self.waiting_answer and not self.done:
            username, method, obj = self.current
            self._act(username, method, obj.receive(payload))
            return
        raise RemoteProtocolError(f"unexpected userauth message {mtype} from client")

    def _request(self, username: str, service: str, method: str, body: bytes) -> None:
        if method == "none":
            self.current = (username, "none", None)
            self._ask(username, "none", AuthAsk("none", {"username": username}))
            return
        wire_method = method
        if method == HOSTBOUND:  # OpenSSH's host-bound publickey: the publickey method's
            method = "publickey"
        if method not in self._allowed_for(username):
            self._emit(ev.AuthResult(username, method, False))
            self._failure(counted=True, username=username)
            return
        factory = self.host.registry.get("auth", method).server
        obj = factory(self._context(wire_method))
        self.current = (username, method, obj)
        self._act(username, method, obj.request(username, service, body))

    def _ask(self, username: str, method: str, action: AuthAsk) -> None:
        self.waiting_answer = True
        info = dict(action.info)
        info.setdefault("username", username)
        self._emit(ev.AuthRequested(username, method, action.kind, info))

    def _act(self, username: str, method: str, action: Any) -> None:
        if isinstance(action, AuthAsk):
            self._ask(username, method, action)
        elif isinstance(action, AuthSend):
            for p in action.payloads:
                self._send(p)
        elif action.success:
            self.current = None
            done = self.completed.setdefault(username, [])
            if method != "none" and method not in done:
                done.append(method)
            if self.required and method != "none" and not any(
                    all(m in done for m in seq) for seq in self.required):
                # RFC 4252 section 5.1: partial success, more methods needed.
                self._emit(ev.AuthResult(username, method, True, partial=True))
                self._failure(counted=False, partial=True, username=username)
                return
            self._emit(ev.AuthResult(username, method, True))
            self.done = True
            self._send(byte(MessageType.USERAUTH_SUCCESS))
            self.host.on_auth_success(username)
        else:
            self.current = None
            self._emit(ev.AuthResult(username, method, False))
            self._failure(counted=True, partial=action.partial, username=username)

    def answer(self, answer: Any) -> None:
        if not self.waiting_answer or self.current is None:
            raise LocalProtocolError("no authentication decision was requested")
        self.waiting_answer = False
        username, method, obj = self.current
        if method == "none":
            # "none" asks whether this user may log in without authentication; a refusal
            # is not counted as a failed attempt (as in OpenSSH).
            if answer:
                self._act(username, method, AuthDone(success=True))
            else:
                self.current = None
                self._failure(counted=False, username=username)
            return
        self._act(username, method, obj.resume(answer))

    def _allowed_for(self, username: str) -> Sequence[str]:
        """Methods that can still lead to success for this user (all of them without
        required sequences; otherwise the next methods of each sequence not yet done)."""
        if not self.required:
            return self.allowed
        done = self.completed.get(username, [])
        nxt: list[str] = []
        for seq in self.required:
            if all(m in seq for m in done):
                for m in seq:
                    if m not in done and m in self.allowed and m not in nxt:
                        nxt.append(m)
        return nxt

    def _failure(self, counted: bool, partial: bool = False, username: str = "") -> None:
        if counted:
            self.failures += 1
        if counted and self.failures >= self.host.config.max_auth_tries:
            raise NoMoreAuthMethodsError("too many authentication failures",
                                         reason=DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE)
        self._send(b"".join((byte(MessageType.USERAUTH_FAILURE),
                             name_list(self._allowed_for(username)), boolean(partial))))
