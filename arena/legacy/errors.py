"""The one error the legacy import raises for bad input."""
from __future__ import annotations


class LegacyError(Exception):
    """Bad legacy input: names the file and the record, and says what is wrong.

    ``str()`` is one paragraph meant for the operator; the command prints it and
    exits non-zero, and the import's transaction is rolled back, so nothing is written.
    """

    def __init__(self, file: str, record: str, problem: str) -> None:
        self.file = file
        self.record = record
        self.problem = " ".join(problem.split())  # one paragraph, whatever a library said
        where = f"{file}, {record}" if record else file
        super().__init__(f"{where}: {self.problem}")
