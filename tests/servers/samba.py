"""A real Samba Active Directory domain controller for the tests: `samba-tool domain provision`
into a directory of its own, the domain's password and lockout policy, OU=People and OU=Groups,
the desk's service account with just its delegations, then `samba` in the foreground as a child
listening (LDAP 389 and LDAPS 636 only) on a loopback address: 127.0.0.1 unless another
session holds it. Every file it writes is under one /tmp/samba-dc-* directory, removed at the end.

The provisioned tree is built once per Samba version and recipe, kept under
ITDESK_TEST_SAMBA_CACHE (default /tmp/samba-cache, ours alone; empty: no cache) and copied
for each session. At each start the DC is given a TLS certificate from a CA of the session's
own (`openssl`), naming both `TLS_HOSTNAME` and the address it listens on, so a client checks
it either by that name or, as the desk does with `ITDESK_LDAP_URL=ldaps://<address>`, by the
address, trusting `SambaDC.ca_file`."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # ldap3 2.9.1 imports pyasn1's deprecated tagMap and typeMap, a DeprecationWarning that
    # the suite's filterwarnings makes an error; imported once, it is cached for everyone.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="ldap3")
    import ldap3
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

SAMBA = Path("/usr/sbin/samba")
SAMBA_TOOL = Path("/usr/bin/samba-tool")
SCHEMA = Path("/usr/share/samba/setup/ad-schema")  # Debian's samba-ad-provision

REALM, DOMAIN, BASE_DN = "ITDESK.TEST", "ITDESK", "DC=itdesk,DC=test"
TLS_HOSTNAME = "DC1.itdesk.test"
ADMIN_DN, ADMIN_PASSWORD = f"CN=Administrator,CN=Users,{BASE_DN}", "Admin-Pass-2024"
SERVICE_NAME, SERVICE_PASSWORD = "svc-itdesk", "Desk-Service-2024"
SERVICE_DN = f"CN={SERVICE_NAME},CN=Users,{BASE_DN}"
PEOPLE_DN, GROUPS_DN = f"OU=People,{BASE_DN}", f"OU=Groups,{BASE_DN}"
DOMAIN_ADMINS_DN = f"CN=Domain Admins,CN=Users,{BASE_DN}"
LOCKOUT_THRESHOLD, LOCKOUT_DURATION = 3, timedelta(minutes=10)

_USER, _GROUP = "bf967aba-0de6-11d0-a285-00aa003049e2", "bf967a9c-0de6-11d0-a285-00aa003049e2"
# The desk's delegations, inherited by the users and groups below each OU: Reset Password,
# read/write lockoutTime, userAccountControl and pwdLastSet; read/write a group's member.
DELEGATION = {
    PEOPLE_DN: "".join(f"(OA;CIIO;{right};{guid};{_USER};{{sid}})" for right, guid in (
        ("CR", "00299570-246d-11d0-a768-00aa006e0529"),
        ("RPWP", "28630ebf-41d5-11d1-a9c1-0000f80367c1"),
        ("RPWP", "bf967a68-0de6-11d0-a285-00aa003049e2"),
        ("RPWP", "bf967a0a-0de6-11d0-a285-00aa003049e2"),
    )),
    GROUPS_DN: f"(OA;CIIO;RPWP;bf9679c0-0de6-11d0-a285-00aa003049e2;{_GROUP};{{sid}})",
}  # fmt: skip
_SETUP = (
    ("domain", "provision", "--use-rfc2307", f"--realm={REALM}", f"--domain={DOMAIN}",
     "--server-role=dc", "--dns-backend=NONE", f"--adminpass={ADMIN_PASSWORD}",
     "--host-name=dc1"),
    ("domain", "passwordsettings", "set", "--complexity=off", "--min-pwd-length=8",
     "--history-length=0", "--min-pwd-age=0", "--max-pwd-age=0",
     f"--account-lockout-threshold={LOCKOUT_THRESHOLD}",
     f"--account-lockout-duration={LOCKOUT_DURATION // timedelta(minutes=1)}",
     f"--reset-account-lockout-after={LOCKOUT_DURATION // timedelta(minutes=1)}"),
    ("ou", "create", PEOPLE_DN),
    ("ou", "create", GROUPS_DN),
    ("user", "create", SERVICE_NAME, SERVICE_PASSWORD),
)  # fmt: skip


def _conf(root: Path, address: str) -> str:
    """Every path Samba uses under `root`; only the LDAP service, on `address` only."""
    dirs = {"private dir": "private", "lock directory": "lock", "state directory": "state",
            "cache directory": "cache", "pid directory": "run", "binddns dir": "bind-dns",
            "ncalrpc dir": "run/ncalrpc", "winbindd socket directory": "run/winbindd",
            "ntp signd socket directory": "run/ntp_signd", "log file": "log/samba.log"}  # fmt: skip
    lines = ["[global]", "netbios name = DC1", f"realm = {REALM}", f"workgroup = {DOMAIN}",
             "server role = active directory domain controller", "server services = ldap",
             f"interfaces = {address}/8", "bind interfaces only = yes", "logging = file",
             "tls enabled = yes", "idmap_ldb:use rfc2307 = yes",
             *(f"tls {kind}file = {root / 'tls' / kind}.pem" for kind in ("key", "cert", "ca")),
             *(f"{key} = {root / sub}" for key, sub in dirs.items()),
             "[sysvol]", f"path = {root}/state/sysvol",
             "[netlogon]", f"path = {root}/state/sysvol/itdesk.test/scripts"]  # fmt: skip
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Person:
    """Someone to seed under OU=People (or an OU below it, `base`); `manager` and group
    members are usernames. `admin` makes them a Domain Admin with adminCount=1 set, as AD's
    SDProp would (Samba has none); `disabled` sets ACCOUNTDISABLE."""

    username: str
    name: str
    password: str = "Start-Pass-1"
    mail: str | None = None
    other_mailbox: tuple[str, ...] = ()
    mobile: str | None = None
    manager: str | None = None
    title: str | None = None
    department: str | None = None
    admin: bool = False
    disabled: bool = False
    base: str = PEOPLE_DN

    @property
    def dn(self) -> str:
        return f"CN={escape_rdn(self.name)},{self.base}"


@dataclass(frozen=True)
class Group:
    """A group to seed under OU=Groups (or an OU below it, `base`); its sAMAccountName is
    `name`, members by username."""

    name: str
    members: tuple[str, ...] = ()
    description: str | None = None
    base: str = GROUPS_DN

    @property
    def dn(self) -> str:
        return f"CN={escape_rdn(self.name)},{self.base}"


@dataclass(frozen=True)
class SambaDC:
    """A running DC: where it listens, who may bind, and seeding."""

    root: Path
    address: str
    base_dn: str = BASE_DN
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD
    service_dn: str = SERVICE_DN
    service_password: str = SERVICE_PASSWORD
    people_dn: str = PEOPLE_DN
    groups_dn: str = GROUPS_DN
    tls_hostname: str = TLS_HOSTNAME
    lockout_duration: timedelta = LOCKOUT_DURATION

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}:636"

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.address}:389"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @cached_property
    def tls(self) -> ldap3.Tls:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file),
                         valid_names=[self.tls_hostname])  # fmt: skip

    def server(self, *, ldaps: bool = True, schema: bool = False) -> ldap3.Server:
        """`schema`: ldap3 reads the DC's schema and hands values over typed (datetimes,
        ints); without it, as lists of strings."""
        return ldap3.Server(self.address, 636 if ldaps else 389, use_ssl=ldaps, tls=self.tls,
                            get_info=ldap3.SCHEMA if schema else ldap3.NONE,
                            connect_timeout=5)  # fmt: skip

    def connect(
        self, dn: str, password: str, *, ldaps: bool = True, schema: bool = False,
        **options: Any,
    ) -> ldap3.Connection:  # fmt: skip
        """A bound connection over LDAPS (or StartTLS on 389), `options` for ldap3's
        `Connection`; raises `LDAPBindError` if the DC refuses the bind."""
        server = self.server(ldaps=ldaps, schema=schema)
        bind = True if ldaps else ldap3.AUTO_BIND_TLS_BEFORE_BIND
        with quiet_ldap3():
            return ldap3.Connection(server, dn, password, auto_bind=bind, receive_timeout=10,
                                    **options)  # fmt: skip

    def admin(self, **options: Any) -> ldap3.Connection:
        return self.connect(self.admin_dn, self.admin_password, **options)

    def service(self, **options: Any) -> ldap3.Connection:
        return self.connect(self.service_dn, self.service_password, **options)

    def bind_refusal(self, dn: str, password: str) -> str | None:
        """None if an LDAPS bind succeeds, else AD's reason code: 52e bad password, 775
        locked out, 533 disabled, 773 must change password."""
        conn = ldap3.Connection(self.server(), dn, password, receive_timeout=10)
        try:
            with quiet_ldap3():
                bound = conn.bind()
            if bound:
                return None
            message = str(conn.result["message"])
            return message.split(", data ")[1].split(",")[0] if ", data " in message else message
        finally:
            conn.unbind()

    def read(self, dn: str, *attributes: str) -> dict[str, Any]:
        """The entry's attributes as the Administrator reads them (raw: lists of strings)."""
        conn = self.admin()
        try:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes))
            return dict(conn.response[0]["attributes"])
        finally:
            conn.unbind()

    def change(self, dn: str, changes: dict[str, Any]) -> None:
        """An ldap3 modify as the Administrator."""
        conn = self.admin()
        try:
            _ok(conn, conn.modify(dn, changes))
        finally:
            conn.unbind()

    def seed(self, people: Iterable[Person] = (), groups: Iterable[Group] = ()) -> None:
        """Create these people and groups afresh (an entry with the same DN is replaced)."""
        people, groups = list(people), list(groups)
        dns = {p.username: p.dn for p in people}
        conn = self.admin()
        try:
            for entry in [*people, *groups]:
                conn.delete(entry.dn)
            for p in people:
                attrs: dict[str, Any] = {
                    "sAMAccountName": p.username, "displayName": p.name,
                    "userPrincipalName": f"{p.username}@{REALM.lower()}",
                    "unicodePwd": f'"{p.password}"'.encode("utf-16-le"),
                    "userAccountControl": 0x202 if p.disabled else 0x200,
                }  # fmt: skip
                optional = {"mail": p.mail, "mobile": p.mobile, "title": p.title,
                            "department": p.department,
                            "otherMailbox": list(p.other_mailbox) or None}  # fmt: skip
                attrs |= {k: v for k, v in optional.items() if v}
                _ok(conn, conn.add(p.dn, ["top", "person", "organizationalPerson", "user"], attrs))
            for p in people:
                if p.manager is not None:
                    manager = dns.get(p.manager) or _dn_of(conn, p.manager)
                    _ok(conn, conn.modify(p.dn, {"manager": [(ldap3.MODIFY_REPLACE, [manager])]}))
                if p.admin:
                    add = {"member": [(ldap3.MODIFY_ADD, [p.dn])]}
                    _ok(conn, conn.modify(DOMAIN_ADMINS_DN, add))
                    _ok(conn, conn.modify(p.dn, {"adminCount": [(ldap3.MODIFY_REPLACE, [1])]}))
            for g in groups:
                attrs = {"sAMAccountName": g.name}
                if g.description:
                    attrs["description"] = g.description
                if g.members:
                    attrs["member"] = [dns.get(m) or _dn_of(conn, m) for m in g.members]
                _ok(conn, conn.add(g.dn, ["top", "group"], attrs))
        finally:
            conn.unbind()

    def create_ou(self, dn: str) -> None:
        conn = self.admin()
        try:
            _ok(conn, conn.add(dn, ["top", "organizationalUnit"]))
        finally:
            conn.unbind()

    def remove_tree(self, dn: str) -> None:
        """Delete `dn` and everything below it (gone already: nothing to do)."""
        conn = self.admin()
        try:
            conn.search(dn, "(objectClass=*)", ldap3.SUBTREE, attributes=["1.1"])
            found = [str(r["dn"]) for r in conn.response if r["type"] == "searchResEntry"]
            for entry in sorted(found, key=lambda d: d.count(","), reverse=True):
                _ok(conn, conn.delete(entry))
        finally:
            conn.unbind()

    def lock_out(self, dn: str) -> None:
        """Lock the account out as AD does: as many bad sign-ins as the policy allows."""
        for _ in range(LOCKOUT_THRESHOLD):
            self.bind_refusal(dn, "Not-The-Password-0")


def _ok(conn: ldap3.Connection, done: bool) -> None:
    if not done:
        raise RuntimeError(f"seeding the DC failed: {conn.result}")


def _dn_of(conn: ldap3.Connection, username: str) -> str:
    conn.search(BASE_DN, f"(sAMAccountName={escape_filter_chars(username)})", attributes=[])
    return str(conn.response[0]["dn"])


@contextmanager
def quiet_ldap3() -> Iterator[None]:
    """ldap3 2.9.1 checks a certificate's name with `ssl.match_hostname`, deprecated: a
    DeprecationWarning the suite makes an error, which ldap3 reports as a failed handshake."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="ldap3")
        yield


def missing() -> str | None:
    """Why this machine cannot run the DC, or None."""
    if not (SAMBA.exists() and SAMBA_TOOL.exists()):
        return "needs Samba's AD DC (Debian packages samba-ad-dc and samba-ad-provision)"
    if shutil.which("openssl") is None:
        return "needs openssl to issue the DC's TLS certificate"
    if not SCHEMA.is_dir():
        return f"needs the AD schema files in {SCHEMA} (Debian package samba-ad-provision)"
    if os.geteuid() != 0:
        return "needs root: Samba's AD DC keeps its ACLs in security.* extended attributes"
    return None


@contextmanager
def session_dc() -> Iterator[SambaDC]:
    """The session's DC; skipped with a reason when Samba is missing, failed when CI=true."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the Samba AD DC tests cannot run: {reason}")
        pytest.skip(reason)
    with running_dc() as dc:
        yield dc


@contextmanager
def running_dc() -> Iterator[SambaDC]:
    scratch = Path(tempfile.mkdtemp(prefix="samba-dc-", dir="/tmp"))
    try:
        cache = _cache_dir()
        root = scratch / "dc"
        if cache is None:
            _build(root)
        else:
            shutil.copytree(_cached(cache), root, symlinks=True)
        (root / "run").mkdir(exist_ok=True)
        (root / "log").mkdir(exist_ok=True)
        tried = []
        for address in _addresses():
            tried.append(address)
            dc = SambaDC(root, address)
            proc = _start(dc)
            try:
                if _wait_ready(dc, proc):
                    break
            except BaseException:
                _stop(proc)
                raise
            _stop(proc)
        else:
            if not tried:
                raise RuntimeError("389 and 636 are taken on every loopback address tried")
            log = root / "log" / "samba.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"samba did not answer on LDAP and LDAPS ({tried}):\n{tail}")
        try:
            yield dc
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _tool(root: Path, *args: str) -> str:
    done = subprocess.run([str(SAMBA_TOOL), *args, "-s", str(root / "etc" / "smb.conf")],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"samba-tool {' '.join(args[:3])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _build(root: Path) -> None:
    """Provision and configure a domain in `root`, offline (no samba running)."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "smb.conf").write_text(_conf(root, "127.0.0.1"))
    for step in _SETUP:
        _tool(root, *step)
    shown = _tool(root, "user", "show", SERVICE_NAME, "--attributes=objectSid")
    sid = next(line.split()[1] for line in shown.splitlines() if line.startswith("objectSid:"))
    for dn, sddl in DELEGATION.items():
        _tool(root, "dsacl", "set", f"--objectdn={dn}", f"--sddl={sddl.format(sid=sid)}")


def _cache_dir() -> Path | None:
    """ITDESK_TEST_SAMBA_CACHE when it is a directory only we can write; else no cache."""
    setting = os.environ.get("ITDESK_TEST_SAMBA_CACHE", "/tmp/samba-cache")
    if not setting:
        return None
    path = Path(setting)
    with suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return None
    return path


def _cached(cache: Path) -> Path:
    """The pristine tree for this Samba version and recipe, built on first use. It appears
    whole or not at all (built aside, then renamed), and is never written again."""
    version = subprocess.run([str(SAMBA), "-V"], capture_output=True, text=True, check=True)
    recipe = json.dumps([version.stdout, _conf(Path("/"), ""), _SETUP, DELEGATION])
    ready = cache / f"dc-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    if not ready.is_dir():
        aside = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
        try:
            _build(aside / "tree")
            with suppress(OSError):  # another session got there first
                (aside / "tree").rename(ready)
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    return ready


def _addresses() -> Iterator[str]:
    """127.0.0.1, then other loopback addresses, where 389 and 636 are both free."""
    rng = random.Random()
    candidates = ["127.0.0.1", *(f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}."
                                 f"{rng.randint(1, 254)}" for _ in range(8))]  # fmt: skip
    for address in candidates:
        if all(_free(address, port) for port in (389, 636)):
            yield address


def _free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _issue_certificate(dc: SambaDC) -> None:
    """A CA and the DC's certificate from it, for `TLS_HOSTNAME` and the DC's address."""
    tls = dc.root / "tls"
    shutil.rmtree(tls, ignore_errors=True)
    tls.mkdir(mode=0o700)
    names = f"subjectAltName=DNS:{dc.tls_hostname},IP:{dc.address}"
    steps = (
        ("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=itdesk test CA", "-keyout", "ca-key.pem", "-out", "ca.pem"),
        ("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={dc.tls_hostname}",
         "-keyout", "key.pem", "-out", "dc.csr"),
        ("x509", "-req", "-in", "dc.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
         "-CAcreateserial", "-days", "2", "-extfile", "/dev/stdin", "-out", "cert.pem"),
    )  # fmt: skip
    for step in steps:
        subprocess.run(["openssl", *step], cwd=tls, input=names.encode(), capture_output=True,
                       timeout=60, check=True)  # fmt: skip
    (tls / "key.pem").chmod(0o600)


def _start(dc: SambaDC) -> subprocess.Popen[bytes]:
    _issue_certificate(dc)
    conf = dc.root / "etc" / "smb.conf"
    conf.write_text(_conf(dc.root, dc.address))
    with (dc.root / "log" / "stdout.log").open("ab") as out:
        return subprocess.Popen(
            [str(SAMBA), "-F", "--no-process-group", "-M", "single", "-s", str(conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_ready(dc: SambaDC, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Polls (samba says nothing when it is ready) until 389 accepts and 636 completes a TLS
    handshake with the CA samba wrote; False if samba exits or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if dc.ca_file.exists() and _answers(dc):
            return True
        time.sleep(0.1)
    return False


def _answers(dc: SambaDC) -> bool:
    try:
        with socket.create_connection((dc.address, 389), timeout=2):
            pass
        context = ssl.create_default_context(cafile=str(dc.ca_file))
        with (
            socket.create_connection((dc.address, 636), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=dc.tls_hostname),
        ):
            return True
    except OSError:  # refused, not yet listening, or the CA file half written
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to samba's process group, SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
