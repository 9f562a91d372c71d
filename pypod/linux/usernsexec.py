"""`python -m pypod.linux.usernsexec [--holder-dir DIR] -- ARGV...`

Enter the user's shared user namespace (join a live holder or create and map one), become uid 0
there, and exec ARGV. Spawned by userns.run_in_userns(); keeps its pid across the exec, so it
registers itself as a holder while ARGV runs.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    holder_dir = None
    args = list(argv)
    while args and args[0] != "--":
        a = args.pop(0)
        if a == "--holder-dir" and args:
            holder_dir = args.pop(0)
        else:
            print(f"usernsexec: unknown option {a}", file=sys.stderr)
            os._exit(125)
    if args and args[0] == "--":
        args.pop(0)
    if not args:
        print("usernsexec: no command", file=sys.stderr)
        os._exit(125)
    from pypod.linux import userns

    try:
        if userns.in_userns_required():
            userns.enter(holder_dir=holder_dir, register=True)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
    except OSError as e:
        print(f"Error: {e.strerror or e}", file=sys.stderr)
        os._exit(125)
    try:
        os.execvp(args[0], args)
    except OSError as e:
        print(f"Error: {args[0]}: {e.strerror}", file=sys.stderr)
        os._exit(127 if e.errno == 2 else 126)


if __name__ == "__main__":
    main(sys.argv[1:])
