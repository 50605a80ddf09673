"""A real OpenLDAP server for the tests, one per test session (`slapd` fixture): its cn=config
made with `slapadd -n0` in a temporary directory (/tmp/ldap-*), an mdb database under
dc=itdesk,dc=test with the memberof and ppolicy overlays (lock-out after 3 failures, at
least 8 characters, 5 passwords of history), a root DN that seeds it and the desk's service
account with only the rights the desk needs (`ACCESS`). Each test seeds an org file into a
tenant of its own (`Slapd.tenant`). `running_slapd` is what the `slapd` fixture yields;
without slapd the tests that need it are skipped, unless CI=true: there they fail."""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ldap3 import BASE, NONE, SAFE_SYNC, Connection, Server

from bot.directory_files import RoleMap
from bot.org import Org
from servers.ldif import RECOVERY_MAIL, Tenant, tenant_ldif

SUFFIX = "dc=itdesk,dc=test"
ROOT_DN = f"cn=root,{SUFFIX}"
DESK_DN = f"cn=desk,ou=services,{SUFFIX}"
TENANTS = f"ou=tenants,{SUFFIX}"
MODULES = Path("/usr/lib/ldap")
SCHEMAS = Path("/etc/ldap/schema")

# What the desk's service account may do, least first: set passwords without reading them,
# lock, unlock, disable and flag a password for change on people, change groups' members,
# read people and groups; nothing else (not cn=config, not other services, not policies).
ACCESS = f"""\
olcAccess: {{0}}to attrs=userPassword
  by dn.exact="{DESK_DN}" =w
  by anonymous auth
  by * none
olcAccess: {{1}}to dn.subtree="{TENANTS}" filter=(objectClass=inetOrgPerson)
  attrs=pwdAccountLockedTime,pwdReset
  by dn.exact="{DESK_DN}" write
  by * none
olcAccess: {{2}}to dn.subtree="{TENANTS}" filter=(objectClass=groupOfNames) attrs=member
  by dn.exact="{DESK_DN}" write
  by * none
olcAccess: {{3}}to dn.subtree="{TENANTS}"
  by dn.exact="{DESK_DN}" read
  by * none
olcAccess: {{4}}to * by * none
"""

# A secondary address for codes and links: inetOrgPerson has none, so an org adds its own.
SCHEMA = """\
dn: cn=itdesk,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: itdesk
olcAttributeTypes: ( 1.3.6.1.4.1.32473.1.1.1 NAME 'recoveryMail'
  DESC 'where codes and links go besides the own mailbox'
  EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.32473.1.2.1 NAME 'recoveryContact'
  DESC 'a person reachable besides their own mailbox' SUP top AUXILIARY MAY recoveryMail )
"""

CONFIG = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcLogLevel: none

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {modules}
olcModuleLoad: {{0}}back_mdb.so
olcModuleLoad: {{1}}ppolicy.so
olcModuleLoad: {{2}}memberof.so

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{schemas}/core.ldif
include: file://{schemas}/cosine.ldif
include: file://{schemas}/inetorgperson.ldif
include: file://{schemas}/nis.ldif

{schema}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {work}/data
olcSuffix: {suffix}
olcRootDN: {root}
olcRootPW: {root_password}
olcDbMaxSize: 67108864
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,recoveryMail,member,manager,cn eq
{access}
dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{1}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{suffix}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
"""

TREE = """\
dn: {suffix}
objectClass: dcObject
objectClass: organization
dc: itdesk
o: itdesk

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: {desk}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: desk
userPassword: {desk_password}

dn: ou=policies,{suffix}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{suffix}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 3
pwdLockoutDuration: 0
pwdMinLength: 8
pwdCheckQuality: 2
pwdInHistory: 5
pwdMustChange: FALSE

dn: {tenants}
objectClass: organizationalUnit
ou: tenants
"""


def slapd_binary() -> Path | None:
    found = shutil.which("slapd") or "/usr/sbin/slapd"
    tools = all(shutil.which(tool) or Path("/usr/sbin", tool).exists()
                for tool in ("slapadd", "ldapadd"))  # fmt: skip
    return Path(found) if Path(found).exists() and tools and MODULES.is_dir() else None


def require_slapd() -> Path:
    binary = slapd_binary()
    if binary is None:
        why = "OpenLDAP's slapd, slapadd and ldapadd are not installed (slapd, ldap-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return binary


@dataclass
class Slapd:
    """A running slapd: where it listens, its root and desk credentials, and what the
    tests do to it (seed a tenant, read as root, bind as someone, pause, stop)."""

    work: Path
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    reader: threading.Thread = field(repr=False)
    root_password: str = field(repr=False)
    desk_password: str = field(repr=False)
    _tenants: int = 0

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def add(self, ldif: str) -> None:
        """Add entries as the root DN (ldapadd, so the overlays see every add)."""
        secret = self.work / "root.pw"
        secret.write_text(self.root_password)
        done = subprocess.run(
            [_tool("ldapadd"), "-x", "-H", self.url, "-D", ROOT_DN, "-y", str(secret)],
            input=ldif.encode(), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ldapadd failed: {done.stderr.decode(errors='replace')}")

    def tenant(self, org: Org, roles: RoleMap) -> Tenant:
        """Seed the org into a tenant of its own."""
        self._tenants += 1
        tenant = tenant_ldif(org, roles, f"ou=t{self._tenants},{TENANTS}")
        self.add(tenant.ldif)
        return tenant

    def settings(self, tenant: Tenant, **more: Any) -> dict[str, Any]:
        """The desk's identity settings for the tenant (`IdentitySettings` fields; as
        environment variables, ITDESK_ and the name in capitals)."""
        return {
            "directory": "ldap",
            "ldap_url": self.url,
            "ldap_bind_dn": DESK_DN,
            "ldap_bind_password": self.desk_password,
            "ldap_base_dn": tenant.base,
            "ldap_user_base": tenant.user_base,
            "ldap_group_base": tenant.group_base,
            "ldap_attributes": {"secondary_email": RECOVERY_MAIL},
            "ldap_timeout": 5.0,
        } | more

    def read(self, dn: str, attributes: list[str]) -> dict[str, list[str]]:
        """An entry's attributes as the root DN sees them (operational ones by name)."""
        with self._connection(ROOT_DN, self.root_password) as c:
            _, result, response, _ = c.search(dn, "(objectClass=*)", BASE, attributes=attributes)
        assert result["result"] == 0, result
        return {k: [str(v) for v in vs] for k, vs in response[0]["attributes"].items() if vs}

    def can_bind(self, dn: str, password: str) -> bool:
        """Whether `dn` signs in with `password` (a failed try counts with ppolicy)."""
        with self._connection(dn, password) as c:
            ok, _, _, _ = c.bind()
        return bool(ok)

    def pause(self) -> None:
        """Stop answering (SIGSTOP): calls hang until `resume`."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        self.process.send_signal(signal.SIGCONT)  # a paused one must run to stop
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.reader.join(timeout=10)  # it reads to the end of slapd's output, then the pipe
        if self.process.stderr is not None:  # can close
            self.process.stderr.close()

    class _Bound:
        def __init__(self, connection: Connection) -> None:
            self.connection = connection

        def __enter__(self) -> Connection:
            return self.connection

        def __exit__(self, *exc: object) -> None:
            self.connection.unbind()

    def _connection(self, dn: str, password: str) -> Slapd._Bound:
        server = Server(self.url, connect_timeout=5, get_info=NONE)
        connection = Connection(server, dn, password, client_strategy=SAFE_SYNC,
                                receive_timeout=5)  # fmt: skip
        if dn == ROOT_DN:
            connection.bind()
        return Slapd._Bound(connection)


def start_slapd(binary: Path) -> Slapd:
    """Configure and start a slapd on a free loopback port; it has forked once its
    listener and database are up, so it is ready when the command returns."""
    work = Path(tempfile.mkdtemp(prefix="ldap-"))
    (work / "conf").mkdir()
    (work / "data").mkdir()
    root_password, desk_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    config = CONFIG.format(work=work, modules=MODULES, schemas=SCHEMAS, schema=SCHEMA,
                           suffix=SUFFIX, root=ROOT_DN, root_password=root_password,
                           access=ACCESS)  # fmt: skip
    (work / "config.ldif").write_text(config)
    subprocess.run([_tool("slapadd"), "-n0", "-F", str(work / "conf"), "-l",
                    str(work / "config.ldif")], check=True, capture_output=True)  # fmt: skip
    for _ in range(5):
        port = _free_port()
        process, reader, said = _launch(binary, work, port)
        if process.poll() is None:
            break
        reader.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
    else:
        pytest.fail(f"slapd did not start: {' '.join(said)}")
    server = Slapd(work, port, process, reader, root_password, desk_password)
    server.add(TREE.format(suffix=SUFFIX, desk=DESK_DN, desk_password=desk_password,
                           tenants=TENANTS))  # fmt: skip
    return server


def running_slapd() -> Iterator[Slapd]:
    """A started slapd, stopped and its directory removed afterwards."""
    server = start_slapd(require_slapd())
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.work, ignore_errors=True)


def _launch(
    binary: Path, work: Path, port: int
) -> tuple[subprocess.Popen[bytes], threading.Thread, deque[str]]:
    """slapd in the foreground (`-d none` logs only what any level logs): it says "slapd
    starting" once its listener and database are up, or exits (the port was taken)."""
    process = subprocess.Popen(
        [str(binary), "-d", "none", "-F", str(work / "conf"), "-h", f"ldap://127.0.0.1:{port}/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    said: deque[str] = deque(maxlen=50)
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # all along, so slapd never blocks on a full pipe
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace").strip()
            said.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, name=f"slapd-{port}", daemon=True)
    reader.start()
    while (line := lines.get(timeout=30)) is not None:
        if line.endswith("slapd starting"):
            return process, reader, said
    process.wait(timeout=10)
    return process, reader, said


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
