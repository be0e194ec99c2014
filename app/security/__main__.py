"""``python -m app.security``: the development identity, tokens, API keys, access.yaml checks.

    dev-identity [--dir D]                       create the development key pair (once)
    mint-token --sub S --role R ... [--ttl N]    a development token, on stdout
    new-api-key --name N --role R ...            a machine key (stdout) and its keys-file line
    check-access [FILE]                          validate an access.yaml, list its roles

Exit codes: 0 done, 1 the file or settings are invalid, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.security.access import DEFAULT_ACCESS_FILE, load_access_file
from app.security.apikeys import mint_api_key
from app.security.dev_identity import ensure_dev_identity
from app.security.documents import SecurityFileError
from app.settings import PROJECT_ROOT

DEFAULT_DEV_DIR = PROJECT_ROOT / ".state" / "dev-identity"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.security", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev-identity", help="create the development key pair")
    dev.add_argument("--dir", type=Path, default=DEFAULT_DEV_DIR)
    mint = commands.add_parser("mint-token", help="a token from the development identity")
    mint.add_argument("--dir", type=Path, default=DEFAULT_DEV_DIR)
    mint.add_argument("--sub", required=True, help="the subject (who)")
    mint.add_argument("--role", action="append", default=[], help="a role (repeat for more)")
    mint.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    mint.add_argument("--amr", action="append", help="amr values (default: pwd and mfa)")
    key = commands.add_parser("new-api-key", help="a machine API key and its keys-file line")
    key.add_argument("--name", required=True)
    key.add_argument("--role", action="append", default=[], required=True)
    key.add_argument("--scheme", choices=("sha256", "scrypt"), default="sha256")
    check = commands.add_parser("check-access", help="validate an access.yaml")
    check.add_argument("file", nargs="?", type=Path, default=DEFAULT_ACCESS_FILE)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "dev-identity":
        print(ensure_dev_identity(args.dir).directory)
    elif args.command == "mint-token":
        identity = ensure_dev_identity(args.dir)
        amr = args.amr if args.amr is not None else ("pwd", "mfa")
        print(identity.mint(args.sub, args.role, ttl=args.ttl, amr=amr))
    elif args.command == "new-api-key":
        secret, line = mint_api_key(args.name, args.role, args.scheme)
        print(secret)
        print(f"# under `keys:` in the keys file (the key above is shown only once):\n{line}")
    else:
        try:
            policy = load_access_file(args.file)
        except SecurityFileError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{args.file} is valid: {len(policy.roles)} roles")
        for role in policy.roles.values():
            print(f"  {role.name}: {', '.join(sorted(role.permissions))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
