"""First-run / upgrade set-up of Superset's metadata, run inside .venv-superset by `pwr superset start`.

One process instead of three CLI calls (each Superset start-up costs ~10 s): applies Superset's
own schema migrations (`superset db upgrade`), syncs roles and permissions (`superset init`),
and creates or updates the admin user. The admin password comes from the environment
(PWR_SUPERSET_ADMIN_PASSWORD), never from argv, so it does not show in the process list.
"""

from __future__ import annotations

import os
import sys

from superset.cli.main import superset as superset_cli


def _cli(*args: str) -> None:
    superset_cli.main(args=list(args), prog_name="superset", standalone_mode=False)


def _ensure_admin(username: str, password: str) -> str:
    from superset import security_manager
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        role = security_manager.find_role("Admin")
        user = security_manager.find_user(username=username)
        if user is None:
            created = security_manager.add_user(
                username, "PwR", "Admin", f"{username}@localhost.invalid", role, password=password
            )
            if not created:
                raise SystemExit(f"could not create the Superset admin user {username!r}")
            return "created"
        security_manager.reset_password(user.id, password)
        if role not in user.roles:
            user.roles.append(role)
            security_manager.update_user(user)
        return "updated"


def main() -> None:
    steps = set(sys.argv[1:]) or {"upgrade", "init", "admin"}
    if "upgrade" in steps:
        print("superset: applying metadata migrations …", flush=True)
        _cli("db", "upgrade")
    if "init" in steps:
        print("superset: syncing roles and permissions …", flush=True)
        _cli("init")
    if "admin" in steps:
        username = os.environ["PWR_SUPERSET_ADMIN_USER"]
        password = os.environ["PWR_SUPERSET_ADMIN_PASSWORD"]
        print(f"superset: admin user {username!r} {_ensure_admin(username, password)}", flush=True)


if __name__ == "__main__":
    main()
