"""Run one fuzz target of :mod:`tests.fuzz.targets` under atheris (libFuzzer).

    python tests/fuzz/run_atheris.py TARGET [-runs=N] [-max_len=N] [CORPUS_DIR ...]
    python tests/fuzz/run_atheris.py --list

Without a corpus directory, the target's seeds are written to a fresh temporary one.
Any libFuzzer flag passes through.  libFuzzer prints ``Done N runs in S second(s)`` at
the end; a crash (an exception the target does not expect) stops the run and writes
the input to ``crash-<sha1>``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402

with atheris.instrument_imports(include=["sshcore", "sshcore_keys", "sshcore_compression",
                                         "sshcore_auth"]):
    import sshcore.connection  # noqa: E402,F401  (the targets import these lazily)
    import sshcore.keys  # noqa: E402,F401
    import sshcore.testing  # noqa: E402,F401
    import sshcore_compression.hooks  # noqa: E402,F401
    import sshcore_keys._formats  # noqa: E402,F401
    from sshcore.registry import default_registry  # noqa: E402

    default_registry()  # loads every installed plugin inside the instrumented block
    from tests.fuzz import targets  # noqa: E402


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help", "--list"):
        print(__doc__.strip())
        print("targets:", " ".join(sorted(targets.TARGETS)))
        raise SystemExit(0 if args else 2)
    name, flags = args[0], args[1:]
    if name not in targets.TARGETS:
        raise SystemExit(f"unknown target {name!r}; targets: {', '.join(sorted(targets.TARGETS))}")
    fn = targets.TARGETS[name]
    if not any(not f.startswith("-") for f in flags):
        corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        for i, seed in enumerate(targets.load_seeds(name)):
            (corpus / f"seed-{i}").write_bytes(seed)
        flags.append(str(corpus))
    if not any(f.startswith("-max_len=") for f in flags):
        flags.append("-max_len=2048")
    atheris.Setup([sys.argv[0], *flags], fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
