"""`python -m pypod.image.unpack_worker DEST COMPRESSION [OPAQUE_XATTR]`

Runs inside the user's user namespace (rootless) so that image uid N becomes container uid N. Reads a
(compressed) layer from stdin, unpacks it into DEST, and prints one JSON line: the diff id (sha256 of
the uncompressed tar), its size, what was skipped (the first messages and the count) and the one-time
notices. Any failure: a message on stderr, exit 1.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    dest, compression = argv[0], argv[1]
    opaque = argv[2] if len(argv) > 2 else "user.overlay.opaque"
    from pypod.image.streams import DecompressingReader, Prefetching
    from pypod.image.unpack import unpack_layer

    stdin = open(0, "rb", buffering=0, closefd=False)
    try:
        reader = DecompressingReader(stdin, compression)
        import os

        from pypod.image.tarsplit import FILE_NAME

        # the original tar's headers beside the layer's diff dir: push/save give it back exactly
        split = os.path.join(os.path.dirname(os.path.abspath(dest)), FILE_NAME)
        ahead = Prefetching(reader)
        stats = unpack_layer(ahead, dest, opaque_xattr=opaque, split_path=split)
        ahead.drain()
        reader.close()
    except Exception as e:  # one line for the parent, which names the layer
        from pypod.errors import describe

        print(describe(e), file=sys.stderr)
        return 1
    json.dump({"diff_id": reader.digest, "size": reader.size, "files": stats.files,
               "skipped": stats.skipped, "skipped_count": stats.skipped_count,
               "notices": stats.notices}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def warnings_of(image: str, reports: list[dict]) -> list[str]:
    """What to say once for an image whose layers gave these worker reports: one line for the
    entries left out (hostile or unsupported: device nodes, sparse files, paths out of the layer),
    and each distinct one-time notice."""
    out = []
    count = sum(r.get("skipped_count", len(r.get("skipped") or ())) for r in reports)
    if count:
        first = next(m for r in reports for m in r.get("skipped") or ())
        more = f" (and {count - 1} more)" if count > 1 else ""
        out.append(f"{image}: {count} layer {'entry' if count == 1 else 'entries'} not unpacked, "
                   f"hostile or unsupported: {first}{more}")
    for r in reports:
        for notice in r.get("notices") or ():
            line = f"{image}: {notice}"
            if line not in out:
                out.append(line)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
