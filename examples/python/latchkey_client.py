#!/usr/bin/env python3
"""A Latchkey client for local apps, in one file of standard-library Python.

Reference for authors of clients in other languages: docs/protocol.md is the
specification, this file is a worked example of it (Linux and macOS; on
Windows the agent listens on the named pipe ``\\\\.\\pipe\\latchkey-<USERNAME>``,
which this example does not open). It mirrors the TypeScript SDK in
src-main/sdk/latchkey-client.ts:

    with LatchkeyClient("com.example.tool", "Example Tool", "1.0") as latchkey:
        token = latchkey.get_auth_tokens(scope="openid email")  # may ask the person
        headers = {"Authorization": f"Bearer {token['access_token']}"}

As a program it prints one token as JSON on stdout:

    python3 latchkey_client.py --app-id com.example.py --scope "openid email" [--interactive]

Three parts, each usable on its own:
  1. Ed25519 signing (RFC 8032 section 5.1) in pure Python, because the
     standard library has none. A C#, Go or Java client should use its
     platform's Ed25519 instead (Go: crypto/ed25519).
  2. The app key file: made on first use, 0600 in a 0700 directory, in the
     same format as the TypeScript SDK's, so either can read the other's.
  3. The protocol: JSON-RPC 2.0 over a Unix socket, one JSON message a line;
     ``hello`` / ``hello.prove`` to prove the key, then ``tokens.*``.

Requires Python 3.11 or later.
"""

import argparse
import base64
import hashlib
import itertools
import json
import os
import socket
import sys
from collections import deque

# --- 1. Ed25519 (RFC 8032 section 5.1) ---------------------------------------
# Extended homogeneous coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z
# (section 5.1.4). Python's big integers make this short, but it is not
# constant-time: fine for signing one challenge per connection on the user's
# own machine, not for a server signing on behalf of others.

_P = 2**255 - 19  # the field prime
_L = 2**252 + 27742317777372353535851937790883648493  # the group order
_D = -121665 * pow(121666, -1, _P) % _P  # the curve constant d


def _recover_x(y, sign):
    """Section 5.1.3, step 3: the x coordinate for y with the given low bit."""
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x & 1 != sign:
        x = _P - x
    return x


_BASE_Y = 4 * pow(5, -1, _P) % _P
_BASE_X = _recover_x(_BASE_Y, 0)
_BASE = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % _P)  # the generator B (section 5.1)


def _point_add(p, q):
    """Section 5.1.4: the complete addition formula (works for doubling too)."""
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(scalar, point):
    result = (0, 1, 1, 0)  # the neutral element
    while scalar:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _point_encode(point):
    """Section 5.1.2: y in little-endian, with the low bit of x in the top bit."""
    z_inv = pow(point[2], -1, _P)
    x, y = point[0] * z_inv % _P, point[1] * z_inv % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _expand_seed(seed):
    """Section 5.1.5: the secret scalar (clamped) and the nonce prefix."""
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8  # clear the 3 low bits and bit 255
    scalar |= 1 << 254
    return scalar, digest[32:]


def ed25519_public_key(seed):
    """The 32-byte public key of a 32-byte private key (the "seed")."""
    scalar, _ = _expand_seed(seed)
    return _point_encode(_point_mul(scalar, _BASE))


def ed25519_sign(seed, message):
    """Section 5.1.6: the 64-byte signature R || S of message."""
    scalar, prefix = _expand_seed(seed)
    public = _point_encode(_point_mul(scalar, _BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _point_encode(_point_mul(r, _BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + ((r + k * scalar) % _L).to_bytes(32, "little")


# --- Errors -------------------------------------------------------------------


class LatchkeyError(Exception):
    """A failure with a stable Latchkey code (docs/protocol.md, "Errors").

    Branch on ``code`` (``consent_required``, ``login_required``,
    ``access_denied``, ...); ``message`` is for people and may change.
    """

    def __init__(self, code, message, provider_error=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.provider_error = provider_error

    @classmethod
    def from_rpc(cls, error):
        # data.code is the Latchkey code; JSON-RPC's own number is a fallback.
        data = error.get("data") or {}
        code = data.get("code") or ("usage" if error.get("code") == -32602 else "internal")
        return cls(code, error.get("message", ""), data.get("providerError"))


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- 2. The app key file --------------------------------------------------------
# {"version": 1, "public_key": <base64url of 32 bytes>, "private_key": <PKCS#8 PEM>}
# An Ed25519 PKCS#8 key (RFC 8410) is a fixed 16-byte header and the seed.

_PKCS8_ED25519_HEADER = bytes.fromhex("302e020100300506032b657004220420")


def default_key_path(app_id):
    """Where the app keeps its key: its own per-user config directory."""
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, app_id, "latchkey-app-key.json")


def load_or_create_key(path):
    """The 32-byte seed in the key file at path, made on first use.

    Refuses (config_invalid) a file that others could read or replace: whoever
    holds the key *is* the app, as far as the person's grants go.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.lstat(directory)
        # Whoever can write the directory can swap the file for a key they know.
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise LatchkeyError("config_invalid", f"{directory} must be yours and not writable by others (chmod 700)")
        seed = _read_key_file(path)
        if seed is None:
            _create_key_file(path, os.urandom(32))
            seed = _read_key_file(path)  # whoever created it first won a race: use theirs
    except OSError as err:
        raise LatchkeyError("storage_error", f"cannot use app key file {path}: {err}") from None
    return seed


def _read_key_file(path):
    try:
        # O_NOFOLLOW: a symlink planted at path must not lead us to another key.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise LatchkeyError("config_invalid", f"cannot open app key file {path}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise LatchkeyError("config_invalid", f"app key file {path} must be yours and private (chmod 600)")
        try:
            data = json.loads(file.read(16 * 1024))
            der = base64.b64decode("".join(data["private_key"].strip().splitlines()[1:-1]))
            if data["version"] != 1 or len(der) != 48 or not der.startswith(_PKCS8_ED25519_HEADER):
                raise ValueError("not an Ed25519 app key")
            seed = der[16:]
            if _b64url(ed25519_public_key(seed)) != data["public_key"]:
                raise ValueError("its public key does not belong to its private key")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise LatchkeyError("config_invalid", f"app key file {path} is unusable ({err}); delete it to make a new key") from None
    return seed


def _create_key_file(path, seed):
    """Writes the key to a private temporary file, then links it into place.

    os.link fails if path exists, so two processes of one app starting at once
    end up sharing one key, and nobody ever reads a half-written file.
    """
    pem = base64.b64encode(_PKCS8_ED25519_HEADER + seed).decode("ascii")
    text = json.dumps(
        {
            "version": 1,
            "public_key": _b64url(ed25519_public_key(seed)),
            "private_key": f"-----BEGIN PRIVATE KEY-----\n{pem}\n-----END PRIVATE KEY-----\n",
        },
        indent=2,
    )
    temp = f"{path}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)


# --- 3. The protocol ------------------------------------------------------------

MAX_MESSAGE_BYTES = 1024 * 1024  # the agent's limit per line, both ways


def default_socket_path():
    """The agent's socket, found by the agent's own rules (docs/protocol.md, "Transport")."""
    env = os.environ
    if env.get("LATCHKEY_SOCKET"):
        return env["LATCHKEY_SOCKET"]
    if env.get("LATCHKEY_HOME"):
        return os.path.join(env["LATCHKEY_HOME"], "agent.sock")
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "latchkey", "agent.sock")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/Latchkey/agent.sock")
    data = env.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "latchkey", "agent.sock")


class LatchkeyClient:
    """One connection to the agent, proven as one app.

    Synchronous and one request at a time, which keeps it short. A client in a
    language with threads or async should instead run one reader that routes
    responses by ``id`` (requests on a connection run concurrently) and hands
    notifications to listeners.
    """

    def __init__(self, app_id, name, version, key_path=None, socket_path=None):
        seed = load_or_create_key(key_path or default_key_path(app_id))
        path = socket_path or default_socket_path()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(path)
        except OSError as err:
            self._sock.close()
            raise LatchkeyError("agent_unavailable", f"no Latchkey agent at {path} ({err.strerror})") from None
        self._buffer = b""
        self._ids = itertools.count(1)
        self._events = deque()
        try:
            # The proof: the agent sends a fresh challenge; we sign exactly these
            # bytes, which bind the signature to this agent process and app id.
            hello = self._call("hello", {"app_id": app_id, "name": name, "version": version, "public_key": _b64url(ed25519_public_key(seed))})
            signed = "\n".join(["latchkey-app-proof-v1", hello["agent_instance"], app_id, hello["challenge"]]).encode("utf-8")
            proof = self._call("hello.prove", {"signature": _b64url(ed25519_sign(seed, signed))})
        except BaseException:
            self.close()
            raise
        self.key_fingerprint = proof["key_fingerprint"]  # "SHA256:...", as the person sees it

    def try_get_auth_tokens(self, **request):
        """A token without asking the person, or LatchkeyError consent_required / login_required.

        Keyword arguments: provider, account, scope, resource, min_ttl, max_age.
        Returns the wire token: access_token, token_type, scope, and maybe
        expires_at, resource, id_token, account.
        """
        return self._call("tokens.tryGet", _token_params(request))

    def get_auth_tokens(self, timeout=None, **request):
        """A token, asking the person (consent, sign-in) when needed; waits for them."""
        return self._call("tokens.get", _token_params(request), timeout)

    def revoke_auth_token(self, account=None):
        """Gives up this app's tokens (for one account, or all); returns how many."""
        return self._call("tokens.revoke", {"account": account} if account else {})["revoked"]

    def accounts(self):
        """The accounts this app holds grants for, showing only what its scopes cover."""
        return self._call("accounts.list", {})["accounts"]

    def subscribe_events(self, events=None):
        """Asks for "grant.revoked" / "account.signed_out" events; read them with next_event."""
        self._call("events.subscribe", {"events": events} if events else {})

    def next_event(self, timeout):
        """The next event ({"type": ..., "account": ...}), or None after timeout seconds."""
        try:
            while not self._events:
                self._dispatch(self._receive(timeout))
        except LatchkeyError as err:
            if err.code != "timeout":
                raise
        return self._events.popleft() if self._events else None

    def close(self):
        # Closing cancels whatever is still in flight on this connection.
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, params, timeout=30.0):
        request_id = next(self._ids)
        # json.dumps escapes newlines inside strings, so a message is exactly one line.
        line = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode("utf-8")
        self._sock.sendall(line + b"\n")
        while True:
            message = self._receive(timeout)
            if "id" not in message:
                self._dispatch(message)  # a notification can arrive before our response
            elif message["id"] in (request_id, None):  # null: an error about the connection
                if "error" in message:
                    raise LatchkeyError.from_rpc(message["error"])
                return message["result"]

    def _receive(self, timeout):
        """The next message from the agent. Our own buffer, not socket.makefile:
        a file object is unusable after one timeout, and next_event times out."""
        self._sock.settimeout(timeout)
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise LatchkeyError("message_too_large", "the agent sent a message over 1 MiB")
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise LatchkeyError("timeout", f"no answer from the agent within {timeout} s") from None
            if not chunk:
                raise LatchkeyError("agent_unavailable", "the agent closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _dispatch(self, notification):
        # Unknown notifications must be ignored: the agent may add new ones.
        if notification.get("method") == "event":
            self._events.append(notification["params"])


def _token_params(request):
    allowed = {"provider", "account", "scope", "resource", "min_ttl", "max_age"}
    unknown = set(request) - allowed
    if unknown:
        raise TypeError(f"unknown token request fields: {', '.join(sorted(unknown))}")
    return {name: value for name, value in request.items() if value is not None}


# --- The command line -------------------------------------------------------------

# The latchkey CLI's exit codes for the same errors, so scripts can treat both alike.
_EXIT_CODES = {"usage": 2, "config_invalid": 2, "login_required": 3, "consent_required": 3, "agent_unavailable": 6, "access_denied": 7, "unauthorized": 7, "cancelled": 130}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Get an access token from Latchkey and print it as JSON.")
    parser.add_argument("--app-id", required=True, help="reverse-DNS app id, e.g. com.example.py")
    parser.add_argument("--name", default="Latchkey Python example", help="the name the person sees (a claim)")
    parser.add_argument("--app-version", default="1.0")
    parser.add_argument("--scope")
    parser.add_argument("--provider")
    parser.add_argument("--account")
    parser.add_argument("--resource")
    parser.add_argument("--interactive", action="store_true", help="ask the person if needed (consent, sign-in)")
    parser.add_argument("--key", help="app key file (default: ~/.config/<app id>/latchkey-app-key.json)")
    parser.add_argument("--socket", help="the agent's socket (default: as the agent computes it)")
    args = parser.parse_args(argv)
    request = {"scope": args.scope, "provider": args.provider, "account": args.account, "resource": args.resource}
    try:
        with LatchkeyClient(args.app_id, args.name, args.app_version, args.key, args.socket) as latchkey:
            token = latchkey.get_auth_tokens(**request) if args.interactive else latchkey.try_get_auth_tokens(**request)
    except LatchkeyError as err:
        # Error messages never contain tokens or keys.
        print(f"latchkey: {err.code}: {err.message}", file=sys.stderr)
        return _EXIT_CODES.get(err.code, 1)
    except KeyboardInterrupt:
        return 130
    print(json.dumps(token, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
