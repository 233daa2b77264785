"""Creates Superset's admin user, or sets its password when it exists. Runs under Superset's virtualenv
(``python superset_admin.py USERNAME``, password on stdin so it never shows in a process list), with
SUPERSET_CONFIG_PATH pointing at the installation. One process instead of two `superset fab` calls: each
start of Superset's app costs seconds."""

from __future__ import annotations

import sys


def main() -> int:
    username = sys.argv[1]
    password = sys.stdin.readline().rstrip("\n")
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager

        user = security_manager.find_user(username=username)
        if user is None:
            role = security_manager.find_role("Admin")
            created = security_manager.add_user(
                username, "Pillarstream", "Admin", f"{username}@localhost.invalid", role, password=password
            )
            if not created:
                print(f"could not create user {username}", file=sys.stderr)
                return 1
        else:
            security_manager.reset_password(user.id, password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
