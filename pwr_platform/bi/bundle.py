"""Dashboards as code: the YAML bundle in ``superset/assets`` ⇄ a running Superset.

Import uses the full-overwrite assets endpoint (``/api/v1/assets/import/``): every database,
dataset, chart and dashboard in the bundle replaces the object with the same UUID, so the YAML
tree is the single source of truth (the dashboard-only import silently keeps existing charts and
datasets). The database password is not in the YAML; it is passed at import.

The database YAML holds the warehouse URI of a default local install; at import the host, port
and database are replaced by the configured warehouse's (as the read-only role), and on export
the committed URI is kept, so the tree does not change with the machine it was exported on.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import yaml

from pwr_platform.bi.reader_role import reader_url
from pwr_platform.bi.superset_api import SupersetClient

MASKED_PASSWORD = "XXXXXXXXXX"  # what Superset writes in place of a password in exports
KINDS = ("databases", "datasets", "charts", "dashboards")


def bundle_files(assets_dir: Path) -> dict[str, str]:
    """``{"charts/x.yaml": text, …}`` for every YAML file of the bundle (plus metadata.yaml)."""
    files = {"metadata.yaml": (assets_dir / "metadata.yaml").read_text()}
    for kind in KINDS:
        for path in sorted((assets_dir / kind).rglob("*.yaml")):
            files[path.relative_to(assets_dir).as_posix()] = path.read_text()
    return files


def build_bundle(assets_dir: Path, warehouse_url: str) -> tuple[bytes, list[str]]:
    """The import ZIP (database URI pointed at ``warehouse_url``) and the database file names."""
    files = bundle_files(assets_dir)
    database_files = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            if name.startswith("databases/"):
                config = yaml.safe_load(text)
                config["sqlalchemy_uri"] = reader_url(warehouse_url, MASKED_PASSWORD)
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
                database_files.append(name)
            zf.writestr(f"pwr_assets/{name}", text)
    return buf.getvalue(), database_files


def import_bundle(client: SupersetClient, assets_dir: Path, warehouse_url: str, db_password: str) -> dict:
    """Import the whole bundle with overwrite; returns counts of the objects in it."""
    data, database_files = build_bundle(assets_dir, warehouse_url)
    client.post_files(
        "/api/v1/assets/import/",
        files={"bundle": ("pwr_assets.zip", data, "application/zip")},
        data={"passwords": json.dumps(dict.fromkeys(database_files, db_password))},
    )
    counts = {kind: 0 for kind in KINDS}
    for name in bundle_files(assets_dir):
        kind = name.split("/", 1)[0]
        if kind in counts:
            counts[kind] += 1
    return counts


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "unnamed"


def _object_name(kind: str, config: dict) -> str:
    key = {
        "databases": "database_name",
        "datasets": "table_name",
        "charts": "slice_name",
        "dashboards": "dashboard_title",
    }[kind]
    return str(config.get(key) or config.get("uuid"))


def export_bundle(client: SupersetClient, assets_dir: Path) -> dict[str, int]:
    """Write every object of the running Superset back into the YAML tree (UI edits → code).

    Files keep their names (matched by UUID); new objects get a file named after them; files of
    objects that no longer exist are removed. Returns {"written": n, "removed": n}.
    """
    data = client.get_bytes("/api/v1/assets/export/")
    existing: dict[str, Path] = {}
    for kind in KINDS:
        for path in (assets_dir / kind).rglob("*.yaml"):
            uuid = (yaml.safe_load(path.read_text()) or {}).get("uuid")
            if uuid:
                existing[str(uuid)] = path
    written: set[Path] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename.split("/", 1)[1]
            kind = name.split("/", 1)[0]
            if kind not in KINDS:
                continue  # metadata.yaml: its timestamp would change on every export
            text = zf.read(info).decode()
            config = yaml.safe_load(text)
            uuid = str(config["uuid"])
            target = existing.get(uuid)
            if target is None:
                target = assets_dir / kind / f"{_slug(_object_name(kind, config))}.yaml"
                n = 2
                while target.exists() or target in written:
                    target = assets_dir / kind / f"{_slug(_object_name(kind, config))}_{n}.yaml"
                    n += 1
            if kind == "databases" and target.exists():
                committed = yaml.safe_load(target.read_text())
                config["sqlalchemy_uri"] = committed["sqlalchemy_uri"]
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.add(target)
    removed = 0
    for path in existing.values():
        if path not in written:
            path.unlink()
            removed += 1
    return {"written": len(written), "removed": removed}
