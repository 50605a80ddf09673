"""Make `graph/openapi.yaml`: the slice of Microsoft Graph v1.0 the desk uses, for the spec
check of the Entra client and the fake Graph (`tests/test_entra_spec.py`).

    python tests/servers/specs/graph_slice.py <a checkout of microsoftgraph/msgraph-metadata>

msgraph-metadata's OpenAPI files are hundreds of megabytes, so the slice is made from what
they are generated from: the v1.0 CSDL (`schemas/v1.0-Prod.csdl`), read as a stream. The
schemas are the CSDL's entity, complex and enum types the desk reads or writes, mapped as
Microsoft's OpenAPI converter maps them (Edm types to JSON types, `Nullable`, collections),
with each type's base types folded in and no other properties allowed, so a misspelt or
invented property fails the check. Properties typed by anything outside the slice accept
any value. The paths are the desk's calls, each checked against the CSDL (the entity set or
singleton, each navigation property, the bound action), and answer in the converter's
shapes: collections as `value` (+ `@odata.nextLink`), errors as `ODataError`. The CSDL is
MIT licensed; its LICENSE is copied next to the slice."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
HERE = Path(__file__).parent / "graph"
NS = "microsoft.graph"
TYPES = (
    "entity", "directoryObject", "user", "group", "passwordProfile", "authenticationMethod",
    "passwordAuthenticationMethod", "microsoftAuthenticatorAuthenticationMethod",
    "phoneAuthenticationMethod", "softwareOathAuthenticationMethod", "emailAuthenticationMethod",
    "signIn", "signInStatus", "riskyUser",
)  # fmt: skip
METHOD_KINDS = ("microsoftAuthenticator", "phone", "softwareOath", "email")
EDM_TYPES: dict[str, dict[str, Any]] = {
    "Edm.String": {"type": "string"},
    "Edm.Boolean": {"type": "boolean"},
    "Edm.Int32": {"type": "integer", "format": "int32"},
    "Edm.Int64": {"type": "integer", "format": "int64"},
    "Edm.Double": {"type": "number"},
    "Edm.Guid": {"type": "string", "format": "uuid"},
    "Edm.DateTimeOffset": {"type": "string", "format": "date-time"},
    "Edm.Date": {"type": "string", "format": "date"},
    "Edm.Binary": {"type": "string", "format": "base64url"},
}


def read_csdl(path: Path) -> tuple[dict[str, ET.Element], dict[str, str], set[str]]:
    """The microsoft.graph types by name, the container's sets and singletons (name ->
    type), and the names of the actions bound to a user, parsed as a stream."""
    types: dict[str, ET.Element] = {}
    container: dict[str, str] = {}
    user_actions: set[str] = set()
    namespace = None
    for event, element in ET.iterparse(path, events=("start", "end")):
        tag = element.tag.removeprefix(EDM)
        if event == "start":
            if tag == "Schema":
                namespace = element.get("Namespace")
            continue
        if namespace != NS:
            continue
        if tag in {"EntityType", "ComplexType", "EnumType"}:
            types[element.get("Name", "")] = element
        elif tag in {"EntitySet", "Singleton"}:
            container[element.get("Name", "")] = (element.get("EntityType") or
                                                  element.get("Type") or "")  # fmt: skip
        elif tag == "Action" and element.get("IsBound") == "true":
            binding = element.find(f"{EDM}Parameter")
            if binding is not None and binding.get("Type") == "graph.user":
                user_actions.add(element.get("Name", ""))
    return types, container, user_actions


def _local(type_name: str) -> str:
    return type_name.removeprefix("graph.").removeprefix(f"{NS}.")


def _property(type_name: str, nullable: bool, types: dict[str, ET.Element]) -> dict[str, Any]:
    if type_name.startswith("Collection("):
        inner = _property(type_name[len("Collection(") : -1], False, types)
        return {"type": "array", "items": inner}
    if type_name in EDM_TYPES:
        schema = dict(EDM_TYPES[type_name])
    elif _local(type_name) in TYPES or (
        _local(type_name) in types and types[_local(type_name)].tag == f"{EDM}EnumType"
    ):
        schema = {"$ref": f"#/components/schemas/{NS}.{_local(type_name)}"}  # fmt: skip
    else:
        return {"description": f"{type_name}: outside the slice, any value"}
    if nullable and "$ref" in schema:
        # null, or the referenced type (an empty object stands for null in the second arm)
        return {"anyOf": [schema, {"type": "object", "nullable": True, "maxProperties": 0}]}
    return {**schema, "nullable": True} if nullable else schema


def schemas(types: dict[str, ET.Element]) -> dict[str, Any]:
    made: dict[str, Any] = {}
    enums: set[str] = set()
    for name in TYPES:
        properties: dict[str, Any] = {"@odata.type": {"type": "string"}}
        current: str | None = name
        while current:  # the type's own properties, then its base types'
            element = types[current]
            for p in element.findall(f"{EDM}Property"):
                kind = p.get("Type", "")
                properties.setdefault(p.get("Name", ""), _property(
                    kind, p.get("Nullable") != "false", types))  # fmt: skip
                base = _local(kind.removeprefix("Collection(").removesuffix(")"))
                if base in types and types[base].tag == f"{EDM}EnumType":
                    enums.add(base)
            current = _local(element.get("BaseType", "")) or None
        made[f"{NS}.{name}"] = {"type": "object", "properties": properties,
                                "additionalProperties": False}  # fmt: skip
    for name in sorted(enums):
        members = [m.get("Name") for m in types[name].findall(f"{EDM}Member")]
        made[f"{NS}.{name}"] = {"type": "string", "enum": members}
    return made


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def paths(types: dict[str, ET.Element], container: dict[str, str],
          user_actions: set[str]) -> dict[str, Any]:  # fmt: skip
    def navigation(owner: str, name: str) -> None:
        element = types[owner]
        if not any(n.get("Name") == name for n in element.findall(f"{EDM}NavigationProperty")):
            raise SystemExit(f"the CSDL has no navigation property {owner}.{name}")

    for name in ("users", "groups", "auditLogs", "identityProtection"):
        if name not in container:
            raise SystemExit(f"the CSDL's container has no {name}")
    for owner, name in [
        ("user", "manager"),
        ("user", "directReports"),
        ("user", "memberOf"),
        ("user", "authentication"),
        ("authentication", "methods"),
        ("group", "members"),
        ("group", "owners"),
        ("auditLogRoot", "signIns"),
        ("identityProtectionRoot", "riskyUsers"),
        *(("authentication", f"{k}Methods") for k in METHOD_KINDS),
    ]:
        navigation(owner, name)  # fmt: skip
    if "revokeSignInSessions" not in user_actions:
        raise SystemExit("the CSDL has no revokeSignInSessions bound to a user")

    user = _ref(f"{NS}.user")
    group = _ref(f"{NS}.group")
    some = {"anyOf": [user, group]}  # a directoryObject: a user or a group, as the desk reads
    method = {"anyOf": [_ref(f"{NS}.{k}AuthenticationMethod") for k in
                        ("password", *METHOD_KINDS)]}  # fmt: skip
    query = [_param("$filter"), _param("$select"), _param("$count"), _param("$skiptoken"),
             _param("$top"), {"name": "ConsistencyLevel", "in": "header", "schema":
                             {"type": "string"}}]  # fmt: skip
    uid, gid = _path_param("user-id"), _path_param("group-id")
    spec: dict[str, Any] = {
        "/users": {"get": _get(_list(user), query)},
        "/users/{user-id}": {"parameters": [uid], "get": _get(user, [_param("$select")]),
                             "patch": _write(user)},
        "/users/{user-id}/manager": {"parameters": [uid], "get": _get(some, [_param("$select")])},
        "/users/{user-id}/directReports": {"parameters": [uid], "get": _get(_list(some), query)},
        "/users/{user-id}/memberOf": {"parameters": [uid], "get": _get(_list(some), query)},
        "/users/{user-id}/revokeSignInSessions": {"parameters": [uid], "post": _get(
            {"type": "object", "properties": {"@odata.context": {"type": "string"},
                                              "value": {"type": "boolean"}}}, [])},
        "/users/{user-id}/authentication/methods": {"parameters": [uid],
                                                    "get": _get(_list(method), query)},
        "/groups": {"get": _get(_list(group), query)},
        "/groups/{group-id}/members": {"parameters": [gid], "get": _get(_list(some), query)},
        "/groups/{group-id}/owners": {"parameters": [gid], "get": _get(_list(some), query)},
        "/groups/{group-id}/members/$ref": {"parameters": [gid], "post": _write(_ref(
            "ReferenceCreate"))},
        "/groups/{group-id}/members/{directoryObject-id}/$ref": {
            "parameters": [gid, _path_param("directoryObject-id")], "delete": _delete()},
        "/auditLogs/signIns": {"get": _get(_list(_ref(f"{NS}.signIn")), query)},
        "/identityProtection/riskyUsers": {"get": _get(_list(_ref(f"{NS}.riskyUser")), query)},
    }  # fmt: skip
    for kind in METHOD_KINDS:
        spec[f"/users/{{user-id}}/authentication/{kind}Methods/{{method-id}}"] = {
            "parameters": [uid, _path_param("method-id")],
            "delete": _delete(),
        }
    return spec


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _list(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        "@odata.context": {"type": "string"}, "@odata.count": {"type": "integer"},
        "@odata.nextLink": {"type": "string", "nullable": True},
        "value": {"type": "array", "items": items}}}  # fmt: skip


def _answers(ok: dict[str, Any]) -> dict[str, Any]:
    return {**ok, "4XX": {"$ref": "#/components/responses/error"},
            "5XX": {"$ref": "#/components/responses/error"}}  # fmt: skip


def _get(schema: dict[str, Any], parameters: list[Any]) -> dict[str, Any]:
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}
    return {"parameters": parameters, "responses": _answers(ok)}


def _write(schema: dict[str, Any]) -> dict[str, Any]:
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    return {"requestBody": body, "responses": _answers({"204": {"description": "Done"}})}


def _delete() -> dict[str, Any]:
    return {"responses": _answers({"204": {"description": "Done"}})}


def slice_of(csdl: Path) -> dict[str, Any]:
    types, container, user_actions = read_csdl(csdl)
    components = schemas(types)
    components["ReferenceCreate"] = {
        "type": "object",
        "required": ["@odata.id"],
        "properties": {"@odata.id": {"type": "string"}},
    }
    components["ODataError"] = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "innerError": {"type": "object"}}}}}  # fmt: skip
    return {
        "openapi": "3.0.4",
        "info": {"title": "Microsoft Graph v1.0: the desk's slice", "version": "v1.0",
                 "license": {"name": "MIT (microsoftgraph/msgraph-metadata)"}},
        "servers": [{"url": "https://graph.microsoft.com/v1.0"}],
        "paths": paths(types, container, user_actions),
        "components": {"schemas": components, "responses": {"error": {
            "description": "error", "content": {"application/json": {"schema": _ref(
                "ODataError")}}}}},
    }  # fmt: skip


class _Plain(yaml.SafeDumper):
    """Writes a value used twice twice, without YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def main(argv: list[str]) -> None:
    checkout = Path(argv[1])
    csdl = checkout / "schemas" / "v1.0-Prod.csdl" if checkout.is_dir() else checkout
    HERE.mkdir(exist_ok=True)
    text = yaml.dump(slice_of(csdl), Dumper=_Plain, sort_keys=False, width=100)
    (HERE / "openapi.yaml").write_text(
        "# Generated by tests/servers/specs/graph_slice.py from msgraph-metadata's\n"
        "# schemas/v1.0-Prod.csdl (MIT, see LICENSE). Do not edit: run the script again.\n"
        + text, encoding="utf-8")  # fmt: skip
    if checkout.is_dir():
        shutil.copy(checkout / "LICENSE", HERE / "LICENSE")


if __name__ == "__main__":
    main(sys.argv)
