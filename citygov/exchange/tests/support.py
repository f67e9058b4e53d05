"""Test support: a small exchange world built with the engine (CA, keys, a signed configuration),
gateway processes started with ``citygov exchange gateway``, and a local provider service.

Setup only; no Django. Ports are taken at random (bind to port 0) so parallel runs do not collide.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.conf import sign_configuration
from citygov.exchange.engine.gateway import free_port

CITYGOV = str(Path(sys.executable).with_name("citygov"))
OPENAPI = {"openapi": "3.0.3", "info": {"title": "Persons", "version": "1"},
           "paths": {"/persons/{id}": {"get": {"responses": {"200": {"description": "a person"}}}}}}


class Backend(BaseHTTPRequestHandler):
    """The provider's local service: echoes what it received; ``/slow`` sleeps, ``/redirect`` redirects."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/svc/slow"):
            time.sleep(2.5)
        if self.path.startswith("/svc/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://example.invalid/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps({"path": self.path, "method": self.command, "body": body.decode("utf-8"),
                              "client": self.headers.get("X-Road-Client"),
                              "connection": self.headers.get("Connection")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _reply


def start_backend() -> ThreadingHTTPServer:
    """A provider service on a random loopback port, in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class World:
    """Keys, certificates and the configuration of a test exchange."""

    root: Path
    ca: ca_engine.IssuedCertificate
    registry_key_pem: bytes
    anchor: Path
    conf: Path
    members: dict[str, dict] = field(default_factory=dict)  # code → {"keys": Path, "port": int, "cert": ...}

    def keys(self, code: str) -> Path:
        return self.members[code]["keys"]


def make_world(root: Path, codes: list[str], *, revoked: tuple[str, ...] = (), rights: list[dict] | None = None,
               hours: int = 24, extra_services: dict[str, list[str]] | None = None) -> World:
    """CA + registry key + one gateway certificate per member code; writes conf.json signed by the registry."""
    now = dt.datetime.now(dt.UTC)
    ca = ca_engine.new_ca("test CA", now=now)
    registry_key, anchor_pem = ca_engine.new_signing_key()
    world = World(root, ca, registry_key, root / "anchor.pem", root / "conf.json")
    world.anchor.write_bytes(anchor_pem)
    for code in codes:
        keys = root / code
        keys.mkdir(parents=True)
        cert = ca_engine.issue_gateway_certificate(ca.key_pem, ca.cert_pem, f"TYC/GOV/{code}", ["127.0.0.1"], now=now)
        (keys / "cert.pem").write_bytes(cert.cert_pem)
        (keys / "key.pem").write_bytes(cert.key_pem)
        sign_key, sign_pub = ca_engine.new_signing_key()
        (keys / "sign.key.pem").write_bytes(sign_key)
        (keys / "sign.pub.pem").write_bytes(sign_pub)
        world.members[code] = {"keys": keys, "port": free_port(), "cert": cert}
    write_conf(world, revoked=revoked, rights=rights or [], hours=hours, extra_services=extra_services or {})
    return world


def write_conf(world: World, *, revoked=(), rights=(), hours=24, extra_services=None) -> bytes:
    """Sign and write the configuration: every member has subsystem APP; members named in ``extra_services``
    also HR with those services (a service called ``vault`` stores its payloads, encrypted)."""
    now = dt.datetime.now(dt.UTC)
    members = []
    for code, info in world.members.items():
        subsystems = [{"code": "APP", "services": []}]
        services = (extra_services or {}).get(code, [])
        if services:
            subsystems.append({"code": "HR", "services": [
                {"code": s, "title": f"{s} service", "openapi": OPENAPI, "store_payloads": s == "vault"}
                for s in services]})
        members.append({"id": f"TYC/GOV/{code}", "name": code,
                        "gateways": [{"address": f"127.0.0.1:{info['port']}", "cert_sha256": info["cert"].sha256}],
                        "subsystems": subsystems})
    payload = {"version": 1, "instance": "TYC", "serial": 1, "generated_at": now.isoformat(),
               "expires_at": (now + dt.timedelta(hours=hours)).isoformat(), "members": members,
               "access_rights": list(rights),
               "revoked_serials": [world.members[c]["cert"].serial_hex for c in revoked],
               "ca_certs_pem": world.ca.cert_pem.decode()}
    document = sign_configuration(ca_engine.load_signing_key(world.registry_key_pem), payload)
    world.conf.write_bytes(document)
    return document


def gateway_command(world: World, code: str, listen_port: int, *, backends=(), timeout: float = 10.0,
                    conf: Path | None = None, extra=()) -> list[str]:
    """The command line that starts member ``code``'s gateway."""
    cmd = [CITYGOV, "exchange", "gateway", "--member", f"TYC/GOV/{code}", "--listen", f"127.0.0.1:{listen_port}",
           "--listen-tls", f"127.0.0.1:{world.members[code]['port']}", "--conf", str(conf or world.conf),
           "--anchor", str(world.anchor), "--keys", str(world.keys(code)), "--timeout", str(timeout)]
    for backend in backends:
        cmd += ["--backend", backend]
    return cmd + list(extra)


def spawn_gateway(world: World, code: str, *, backends=(), timeout: float = 10.0, env_dir: Path, extra=()) -> tuple[
        subprocess.Popen, int]:
    """Start a gateway process (without waiting); returns (process, consumer port)."""
    port = free_port()
    env = {**os.environ, "CITYGOV_VAR_DIR": str(env_dir)}
    proc = subprocess.Popen(gateway_command(world, code, port, backends=backends, timeout=timeout, extra=extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    return proc, port


def spawn_tsa(world: World, env_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start the city's time-stamping authority (``citygov exchange tsa``) with a TSA certificate from the
    world's CA (without waiting); returns (process, URL)."""
    keys = world.root / "tsa"
    keys.mkdir(exist_ok=True)
    issued = ca_engine.issue_tsa_certificate(world.ca.key_pem, world.ca.cert_pem, "test TSA",
                                             now=dt.datetime.now(dt.UTC))
    (keys / "tsa.pem").write_bytes(issued.cert_pem)
    (keys / "tsa.key.pem").write_bytes(issued.key_pem)
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([CITYGOV, "exchange", "tsa", "--listen", address, "--keys", str(keys)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CITYGOV_VAR_DIR": str(env_dir)})
    return proc, f"http://{address}/"


def wait_ready(proc: subprocess.Popen) -> dict:
    """Wait for a gateway's ready line (JSON with its addresses)."""
    line = proc.stdout.readline()
    if not line.startswith("{"):
        proc.kill()
        raise RuntimeError(f"gateway did not start: {line}{proc.stderr.read()}")
    return json.loads(line)


def stop(*procs: subprocess.Popen) -> None:
    """Stop gateway processes (SIGTERM to all, then wait; kill what does not end)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
