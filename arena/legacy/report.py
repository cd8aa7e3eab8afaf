"""What an import did and the proof that it is complete, as plain text."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.values import MONEY_QUANTUM

SECTIONS = (
    "keys to re-enter", "provider base URLs normalised", "outbound URLs refused", "providers", "users",
    "arena settings", "unknown settings (not imported)", "bots", "avatars", "learning summaries", "wallets",
    "history notes", "money",
)


@dataclass
class Check:
    metric: str
    legacy: str
    imported: str
    ok: bool
    note: str = ""  # why a difference is explained, or what is wrong

    @property
    def status(self) -> str:
        if self.ok and self.note:
            return "explained"
        return "ok" if self.ok else "DIFF"


@dataclass
class BotProof:
    legacy_id: str
    name: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass
class Report:
    file: str
    dry_run: bool = False
    created: Counter = field(default_factory=Counter)
    lines: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    proofs: list[BotProof] = field(default_factory=list)

    def add(self, section: str, line: str) -> None:
        self.lines[section].append(line)

    def count(self, what: str, number: int = 1) -> None:
        if number:
            self.created[what] += number

    @property
    def nothing_new(self) -> bool:
        return not any(self.created.values())

    @property
    def proof_ok(self) -> bool:
        return all(proof.ok for proof in self.proofs)

    # --- rendering ---------------------------------------------------------------------

    def render(self) -> str:
        dry = " (dry run: nothing was committed)" if self.dry_run else ""
        out = [f"Legacy import from {self.file}{dry}"]
        if self.nothing_new:
            out.append("Nothing new: every legacy record was already imported; nothing was changed.")
        else:
            out.append("Written: " + ", ".join(f"{n} {what}" for what, n in sorted(self.created.items())))
        for section in SECTIONS:
            if self.lines[section]:
                out.append(f"\n{section[0].upper()}{section[1:]}:")
                out.extend(f"  - {line}" for line in self.lines[section])
        out.append("")
        out.append(self.render_proof())
        return "\n".join(out)

    def render_proof(self) -> str:
        header = ("bot", "metric", "legacy", "imported", "status")
        rows = [header]
        for proof in self.proofs:
            label = f"{proof.legacy_id} ({proof.name})"
            for i, check in enumerate(proof.checks):
                first = label if i == 0 else ""
                rows.append((first, check.metric, check.legacy, check.imported, check.status))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["Proof, legacy vs imported:"]
        for n, row in enumerate(rows):
            lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        notes = [(p.legacy_id, c) for p in self.proofs for c in p.checks if c.note]
        for legacy_id, check in notes:
            lines.append(f"  {check.status}: {legacy_id} {check.metric}: {check.note}")
        verdict = ("every figure matches or its difference is explained" if self.proof_ok
                   else "UNEXPLAINED DIFFERENCES (see DIFF above)")
        lines.append(f"Proof: {verdict}.")
        return "\n".join(lines)


def usdt(value: Decimal | None) -> str:
    return "-" if value is None else f"{Decimal(value).quantize(MONEY_QUANTUM):f}"
