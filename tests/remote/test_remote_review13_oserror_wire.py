"""An ``OSError`` that names a file keeps the file's name when it crosses to another node.

``OSError.args`` holds only the number and the text; the file names are
attributes of their own, so the error rebuilt on the other side had lost
them (``str`` no longer said which file, ``filename`` was ``None``).
"""

from __future__ import annotations

from trouper.remote.wire import error_from_wire, error_to_wire, pack, unpack


def _crossed(error: BaseException) -> BaseException:
    return error_from_wire(unpack(pack(error_to_wire(error, "bank"))), "bank")


def test_a_file_not_found_error_keeps_its_file_name() -> None:
    """The same type, number, text and file name; ``str`` is the same."""
    error = FileNotFoundError(2, "No such file or directory", "/data/report.csv")
    crossed = _crossed(error)
    assert type(crossed) is FileNotFoundError
    assert isinstance(crossed, FileNotFoundError)
    assert (crossed.errno, crossed.strerror, crossed.filename) == (
        2,
        "No such file or directory",
        "/data/report.csv",
    )
    assert str(crossed) == str(error)


def test_an_error_naming_two_files_keeps_both() -> None:
    """``filename2`` (a rename's target, say) crosses too."""
    error = FileExistsError(17, "File exists", "/data/a", None, "/data/b")
    crossed = _crossed(error)
    assert isinstance(crossed, FileExistsError)
    assert (crossed.filename, crossed.filename2) == ("/data/a", "/data/b")
    assert str(crossed) == str(error)


def test_an_os_error_without_a_file_name_crosses_as_before() -> None:
    """Only the number and the text."""
    crossed = _crossed(ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(crossed, ConnectionRefusedError)
    assert (crossed.errno, crossed.strerror, crossed.filename) == (111, "Connection refused", None)
