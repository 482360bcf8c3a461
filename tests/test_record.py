"""``sshcore._record.record``: the behaviour of ``@dataclass(frozen=True, slots=True)``
(equality, hashing, repr, immutability, dataclass helpers, pickling) at a fraction of the
cost of defining the class."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys

import pytest

from sshcore._record import record


@record
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record(frozen=False)
class Box:
    items: list[int] = dataclasses.field(default_factory=list)


@record
class Named:
    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_behaves_as_a_frozen_slotted_dataclass():
    p = Point(1, 2, ("a",))
    assert p == Point(1, 2, ("a",)) and p != Point(1, 3) and hash(p) == hash(Point(1, 2, ("a",)))
    assert repr(p) == repr(Reference(1, 2, ("a",))).replace("Reference", "Point")
    assert p != Reference(1, 2, ("a",)) and (p == 5) is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.y
    with pytest.raises(AttributeError):
        p.other = 1  # slotted: no such attribute
    assert not hasattr(p, "__dict__") and Point.__slots__ == ("x", "y", "tags")
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"]
    assert dataclasses.replace(p, y=9) == Point(1, 9, ("a",))
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ("a",)}
    assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p
    match p:
        case Point(1, y):
            assert y == 2
        case _:
            raise AssertionError("match_args")


def test_not_frozen_and_own_methods():
    b = Box()
    b.items = [1]
    assert b == Box([1]) and Box.__hash__ is None  # unhashable, as dataclass(eq=True)
    assert repr(Named("n")) == "<n>"


def test_defining_records_is_cheaper_than_dataclasses():
    """Counted in compiled functions (deterministic), not time: dataclass generates each
    method from source, one compile apiece."""
    code = ("import builtins, dataclasses\nfrom sshcore._record import record\n"
            "n = 0\nreal = builtins.exec\n"
            "def counting(*a, **k):\n    global n\n    n += 1\n    return real(*a, **k)\n"
            "builtins.exec = counting\n"
            "@dataclasses.dataclass(frozen=True, slots=True)\nclass A:\n    x: int\n    y: int = 0\n"
            "before, n = n, 0\n"
            "@record\nclass B:\n    x: int\n    y: int = 0\n"
            "print(before, n)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    generated, ours = map(int, out.stdout.split())
    assert ours == 1 and generated >= 5


@record
class Checked:
    name: str
    items: tuple[int, ...] = dataclasses.field(default_factory=tuple)
    hidden: int = dataclasses.field(default=7, init=False)
    flag: bool = dataclasses.field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("empty name")


def test_defaults_factories_kw_only_and_post_init():
    c = Checked("a")
    assert (c.items, c.hidden, c.flag) == ((), 7, False)
    assert Checked("a", (1,), flag=True) == Checked(name="a", items=(1,), flag=True)
    with pytest.raises(TypeError):
        Checked("a", (1,), True)  # flag is keyword-only
    with pytest.raises(ValueError):
        Checked("")
    assert pickle.loads(pickle.dumps(Checked("b", (2,)))) == Checked("b", (2,))
    assert dataclasses.replace(c, name="z").name == "z"
